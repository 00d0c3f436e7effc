"""Locate the data shipped with the package.

A wheel carries the templates and the example configuration under ``esl_apps/_data`` (hatch
force-include); a source checkout or editable install finds them at the repository root. Looking
in both places keeps ``esl-apps build`` and ``esl-apps simulate`` working either way.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent


def data_dir(name: str) -> Path:
    """Return the shipped directory ``name`` (dialplan_templates, conf or ivr_flows)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _REPO_ROOT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"esl-apps data directory {name!r} is missing from this installation")


def default_templates_dir() -> Path:
    return data_dir("dialplan_templates")


def example_conf_dir() -> Path:
    return data_dir("conf")


def example_flows_dir() -> Path:
    return data_dir("ivr_flows")
