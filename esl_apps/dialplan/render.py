"""Render the dialplan model into XML file texts with the Jinja2 templates (shipped or the admin's).

Layout (``--out DIR``): one directory per FreeSWITCH context, holding drop-in include files whose
``NN_`` prefix fixes their order inside the context (FreeSWITCH's include glob sorts by name)::

    DIR/<dialplan.context>/00_esl_apps_dids.xml              DIDs -> socket -> static fallback
    DIR/<dialplan.internal_context>/00_esl_apps_features.xml agent login/logout/pause/unpause
    DIR/<dialplan.internal_context>/05_esl_apps_wrapup.xml   the agent wrap-up entry
    DIR/<dialplan.internal_context>/10_esl_apps_groups.xml   ring group extensions
    DIR/<dialplan.internal_context>/20_esl_apps_agents.xml   agents' own extensions

Every ``{{ }}`` output is XML-escaped (autoescape) and passes :func:`safety.attribute`, so even a
modified template cannot write a control character or a preprocessor directive taken from the
YAML; free text goes through the ``comment`` filter. Templates are compiled once per process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import jinja2
from markupsafe import Markup

from esl_apps import resources
from esl_apps.dialplan import contract, safety
from esl_apps.dialplan.model import DialplanModel

__all__ = [
    "FILES",
    "GENERATED_NAME",
    "FileSpec",
    "TemplateProblem",
    "known_templates",
    "render_files",
]

GENERATED_NAME = re.compile(r"[0-9]{2}_esl_apps_[a-z0-9_]+\.xml")
"""Names of files esl-apps owns in an output context directory (others are never touched)."""


@dataclass(frozen=True, slots=True)
class FileSpec:
    template: str
    context: str  # "public" or "internal": which of the two configured contexts
    filename: str


FILES: tuple[FileSpec, ...] = (
    FileSpec("dids.xml.j2", "public", "00_esl_apps_dids.xml"),
    FileSpec("features.xml.j2", "internal", "00_esl_apps_features.xml"),
    FileSpec("wrapup.xml.j2", "internal", "05_esl_apps_wrapup.xml"),
    FileSpec("groups.xml.j2", "internal", "10_esl_apps_groups.xml"),
    FileSpec("agents.xml.j2", "internal", "20_esl_apps_agents.xml"),
)
HELPER_TEMPLATES = ("macros.xml.j2",)

TEMPLATE_VARS = SimpleNamespace(  # fixed names (Markup: nothing to check or escape)
    entry=Markup(contract.VAR_ENTRY),
    did=Markup(contract.VAR_DID),
    flow=Markup(contract.VAR_FLOW),
    recording_policy=Markup(contract.VAR_RECORDING_POLICY),
    group=Markup(contract.VAR_GROUP),
    feature=Markup(contract.VAR_FEATURE),
    feature_arg=Markup(contract.VAR_FEATURE_ARG),
    agent=Markup(contract.VAR_AGENT),
    fallback=Markup(contract.VAR_FALLBACK),
)


class TemplateProblem(Exception):
    """A template that cannot be loaded or rendered, or a value it must not print."""


def known_templates() -> tuple[str, ...]:
    return tuple(spec.template for spec in FILES) + HELPER_TEMPLATES


def _finalize(value: object) -> object:
    # Runs on every {{ }} result before autoescaping: the last guard for values from the YAML.
    # Markup (filter output, the fixed variable names) is a str subclass and already safe.
    if type(value) is str and safety.HAZARD.search(value):
        raise safety.UnsafeValue(f"value {value[:60]!r} {safety.unsafe_reason(value)}")
    return value


@lru_cache(maxsize=8)
def _environment(search_path: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search_path)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        auto_reload=False,
    )
    env.filters["comment"] = safety.comment_text
    env.filters["attr"] = safety.attribute
    return env


def search_path(templates_dir: Path | None) -> tuple[str, ...]:
    """The admin's directory first (a template they did not copy falls back to the shipped one)."""
    default = str(resources.default_templates_dir())
    if templates_dir is None:
        return (default,)
    return (str(Path(templates_dir)), default)


def overridden(templates_dir: Path | None) -> tuple[list[str], list[str]]:
    """(templates taken from the admin's directory, *.j2 files there that no file uses)."""
    if templates_dir is None:
        return [], []
    names = sorted(p.name for p in Path(templates_dir).glob("*.j2"))
    known = set(known_templates())
    return [n for n in names if n in known], [n for n in names if n not in known]


def render_files(model: DialplanModel, templates_dir: Path | None = None) -> dict[str, str]:
    """Relative path (``<context>/<file>``) -> XML text, in layout order."""
    if templates_dir is not None and not Path(templates_dir).is_dir():
        raise TemplateProblem(f"templates directory {templates_dir} does not exist")
    env = _environment(search_path(templates_dir))
    contexts = {"public": model.public_context, "internal": model.internal_context}
    files: dict[str, str] = {}
    for spec in FILES:
        try:
            template = env.get_template(spec.template)
            text = template.render(model=model, vars=TEMPLATE_VARS)
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name}:{exc.lineno}"
            raise TemplateProblem(f"{where}: template syntax error: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            places = ", ".join(search_path(templates_dir))
            raise TemplateProblem(f"template {exc.name} not found in {places}") from None
        except (jinja2.UndefinedError, safety.UnsafeValue, TypeError, AttributeError) as exc:
            raise TemplateProblem(f"{spec.template}: {type(exc).__name__}: {exc}") from None
        if not text.endswith("\n"):
            text += "\n"
        files[f"{contexts[spec.context]}/{spec.filename}"] = text
    return files
