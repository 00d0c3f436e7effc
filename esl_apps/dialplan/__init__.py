"""FreeSWITCH XML dialplan generated from the YAML configuration (``esl-apps build``).

``build_dialplan(config, out_dir)`` renders the Jinja2 templates, proves the result routes every
configured number to its own extension, and writes only the files that changed, atomically.
``esl_apps.dialplan.contract`` holds the channel variables and wrap-up target the running
application shares with the generated XML; ``esl_apps.dialplan.routing`` models FreeSWITCH's hunt.
"""

from esl_apps.dialplan.builder import BuildError, BuildResult, Rendered, build_dialplan, render_dialplan
from esl_apps.dialplan.contract import wrapup_transfer_target
from esl_apps.dialplan.routing import Dialplan, Route, load_dialplan

__all__ = [
    "BuildError",
    "BuildResult",
    "Dialplan",
    "Rendered",
    "Route",
    "build_dialplan",
    "load_dialplan",
    "render_dialplan",
    "wrapup_transfer_target",
]
