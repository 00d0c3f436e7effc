"""Configuration: conf/pbx.yaml, conf/dispositions.yaml and ivr_flows/*.yaml -> one checked model.

``load_config()`` is the only entry point the rest of esl-apps needs: it returns a frozen
:class:`Config` or raises :class:`ConfigError` listing every problem as ``file:line:column``.
"""

from esl_apps.config.errors import ConfigError, ConfigIssue
from esl_apps.config.loader import Config, load_config

__all__ = ["Config", "ConfigError", "ConfigIssue", "load_config"]
