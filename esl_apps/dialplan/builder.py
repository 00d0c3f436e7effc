"""YAML model -> checked XML files -> output directory: the whole of ``esl-apps build`` minus the CLI.

Nothing is written unless every step passed: the configuration values the XML needs are safe,
the templates render, every file parses and every configured number routes to its own extension.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from esl_apps.config import Config, ConfigIssue
from esl_apps.dialplan import safety, writer
from esl_apps.dialplan.model import DialplanModel, build_model
from esl_apps.dialplan.render import TemplateProblem, render_files
from esl_apps.dialplan.verify import verify

__all__ = ["BuildError", "BuildResult", "Rendered", "build_dialplan", "render_dialplan"]


class BuildError(Exception):
    """The dialplan cannot be generated; ``issues`` point into the YAML, ``problems`` describe
    template or routing failures. Both are for the admin to read."""

    def __init__(self, issues: list[ConfigIssue] | None = None, problems: list[str] | None = None) -> None:
        self.issues = list(issues or [])
        self.problems = list(problems or [])
        lines = [str(issue) for issue in self.issues] + self.problems
        super().__init__("\n".join(lines) or "dialplan build failed")


@dataclass(frozen=True, slots=True)
class Rendered:
    model: DialplanModel
    files: dict[str, str]  # "<context>/<NN_esl_apps_name>.xml" -> XML text


@dataclass(frozen=True, slots=True)
class BuildResult:
    rendered: Rendered
    plan: writer.Plan
    written: bool  # False for --check (nothing is ever written then)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Rendering and reading back 10,000 extensions allocates ~10^6 short-lived objects next to a
    large configuration model; the collector's generation scans would otherwise double the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def render_dialplan(config: Config, templates_dir: Path | None = None) -> Rendered:
    """Render and verify in memory; raises :class:`BuildError`."""
    with gc_paused():
        return _render(config, templates_dir)


def _render(config: Config, templates_dir: Path | None) -> Rendered:
    issues = safety.build_issues(config)
    if issues:
        raise BuildError(issues=issues)
    model = build_model(config)
    try:
        files = render_files(model, templates_dir)
    except TemplateProblem as exc:
        raise BuildError(problems=[str(exc)]) from None
    problems = verify(model, files)
    if problems:
        raise BuildError(problems=problems)
    return Rendered(model, files)


def build_dialplan(
    config: Config, out_dir: Path, templates_dir: Path | None = None, *, check: bool = False
) -> BuildResult:
    """Render, verify, compare with ``out_dir`` and (unless ``check``) write the differences."""
    rendered = render_dialplan(config, templates_dir)
    plan = writer.plan(Path(out_dir), rendered.files)
    if not check:
        writer.apply(plan)
    return BuildResult(rendered, plan, written=not check)
