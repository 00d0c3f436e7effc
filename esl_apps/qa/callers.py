"""The CSV injection files of the caller and agent scenarios, as values that can be checked and scaled.

The column layouts are the contract with scripts/sipp/caller_uac.xml and agent_uas.xml (see the
comments at the top of those files). Reading them here gives a clear ``file:line`` error for a
bad row before SIPp starts (SIPp itself would run with an empty or garbled field), and lets the
load test shrink every wait with ``--time-scale`` so a variant written for a real FreeSWITCH's
prompts can run in seconds SIPp-to-SIPp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

MAX_STEPS = 6
CALLER_FIELDS = 2 + 3 * MAX_STEPS  # caller, 6 x (wait, keys, keys_ms), talk
AGENT_FIELDS = 5
AGENT_MODES = ("answer", "noanswer", "busy")
ORDERS = ("SEQUENTIAL", "RANDOM", "USER")
_KEYS = re.compile(r"^[0-9*#A-D]*$")
_CALLER = re.compile(r"^[A-Za-z0-9+*#._-]+$")
# SIPp's play_dtmf: 400 ms of lead-in, then 200 ms tone + 200 ms gap per key; plus slack.
SIPP_DTMF_LEAD_MS = 400
SIPP_DTMF_KEY_MS = 400
SIPP_DTMF_SLACK_MS = 300


class InjectionFileError(ValueError):
    """A CSV injection file row that the scenario could not use; the message names file:line."""


def play_dtmf_ms(keys: str) -> int:
    """How long SIPp's ``play_dtmf`` takes for ``keys``; the caller restarts audio only after it."""
    return SIPP_DTMF_LEAD_MS + SIPP_DTMF_KEY_MS * len(keys) + SIPP_DTMF_SLACK_MS if keys else 0


@dataclass(frozen=True)
class DtmfStep:
    wait_ms: int
    keys: str
    keys_ms: int = 0  # 0: computed from the number of keys

    @property
    def play_ms(self) -> int:
        return self.keys_ms or play_dtmf_ms(self.keys)


@dataclass(frozen=True)
class CallerScript:
    """One call: who calls, which keys when, and how long to talk (0: until the far end hangs up)."""

    caller: str
    steps: tuple[DtmfStep, ...]
    talk_ms: int

    @property
    def keys(self) -> str:
        return "".join(step.keys for step in self.steps)

    @property
    def waits_far_end(self) -> bool:
        return self.talk_ms <= 0

    @property
    def scripted_ms(self) -> int:
        """Time from answer to the end of the last keys (plus talk, if this side hangs up)."""
        return sum(s.wait_ms + s.play_ms for s in self.steps) + max(self.talk_ms, 0)

    def scaled(self, factor: float) -> CallerScript:
        """Waits and talk time times ``factor``; key playing times stay (keys take what they take)."""
        steps = tuple(replace(s, wait_ms=round(s.wait_ms * factor), keys_ms=s.play_ms) for s in self.steps)
        talk = round(self.talk_ms * factor) if self.talk_ms > 0 else 0
        return CallerScript(self.caller, steps, max(talk, 1) if self.talk_ms > 0 else 0)

    def row(self) -> list[str]:
        cells = [self.caller]
        for index in range(MAX_STEPS):
            if index < len(self.steps):
                step = self.steps[index]
                cells += [str(step.wait_ms), step.keys, str(step.play_ms)]
            else:
                cells += ["", "", ""]
        cells.append(str(self.talk_ms))
        return cells


@dataclass(frozen=True)
class AgentBehaviour:
    mode: str = "answer"
    answer_delay_ms: int = 1000
    dispo_after_ms: int = 0
    dispo_ms: int = 0
    hangup_after_ms: int = 0

    def row(self) -> list[str]:
        return [self.mode, str(self.answer_delay_ms), str(self.dispo_after_ms), str(self.dispo_ms),
                str(self.hangup_after_ms)]


def _rows(path: Path) -> tuple[str, list[tuple[int, list[str]]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InjectionFileError(f"{path}: {exc.strerror or exc}") from exc
    if not lines or lines[0].strip().split(",")[0] not in ORDERS:
        raise InjectionFileError(f"{path}:1: the first line must be SEQUENTIAL, RANDOM or USER")
    rows = [(number, line.rstrip("\r").split(";")) for number, line in enumerate(lines[1:], start=2)
            if line.strip() and not line.startswith("#")]
    if not rows:
        raise InjectionFileError(f"{path}: no data lines")
    return lines[0].strip(), rows


def _number(path: Path, line: int, column: str, text: str, *, allow_empty: bool = False) -> int:
    if text.strip() == "" and allow_empty:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise InjectionFileError(f"{path}:{line}: {column} must be a whole number of milliseconds, "
                                 f"got {text!r}") from None
    if value < 0:
        raise InjectionFileError(f"{path}:{line}: {column} cannot be negative ({value})")
    return value


def read_caller_csv(path: str | Path) -> tuple[str, list[CallerScript]]:
    """(order line, scripts) of a caller injection file; raises InjectionFileError naming file:line."""
    source = Path(path)
    order, rows = _rows(source)
    scripts = []
    for line, cells in rows:
        if len(cells) < CALLER_FIELDS:
            raise InjectionFileError(f"{source}:{line}: {len(cells)} fields, the caller scenario needs "
                                     f"{CALLER_FIELDS} (caller;wait1_ms;keys1;keys1_ms;...;talk_ms)")
        steps = []
        for index in range(MAX_STEPS):
            wait, keys, keys_ms = cells[1 + 3 * index: 4 + 3 * index]
            keys = keys.strip()
            if not _KEYS.match(keys):
                raise InjectionFileError(f"{source}:{line}: keys{index + 1} {keys!r}: only 0-9 * # A-D")
            if not keys:
                continue
            if len(steps) != index:
                raise InjectionFileError(f"{source}:{line}: keys{index + 1} follows an empty step; "
                                         "the scenario stops at the first empty keys field")
            wait_ms = _number(source, line, f"wait{index + 1}_ms", wait)
            play_ms = _number(source, line, f"keys{index + 1}_ms", keys_ms, allow_empty=True)
            steps.append(DtmfStep(wait_ms, keys, play_ms))
        for step_number, step in enumerate(steps, start=1):
            needed = play_dtmf_ms(step.keys) - SIPP_DTMF_SLACK_MS
            if step.keys_ms and step.keys_ms < needed:
                raise InjectionFileError(
                    f"{source}:{line}: keys{step_number}_ms {step.keys_ms} is shorter than SIPp needs to "
                    f"play {step.keys!r} ({needed} ms); restarting the audio earlier would cut the keys off")
        talk = _number(source, line, "talk_ms", cells[CALLER_FIELDS - 1])
        caller = cells[0].strip()
        if not _CALLER.match(caller):
            raise InjectionFileError(f"{source}:{line}: caller {caller!r} is not a SIP user (+447700900123)")
        scripts.append(CallerScript(caller, tuple(steps), talk))
    return order, scripts


def read_agent_csv(path: str | Path) -> tuple[str, list[AgentBehaviour]]:
    source = Path(path)
    order, rows = _rows(source)
    agents = []
    for line, cells in rows:
        if len(cells) < AGENT_FIELDS:
            raise InjectionFileError(
                f"{source}:{line}: {len(cells)} fields, the agent scenario needs {AGENT_FIELDS} "
                "(mode;answer_delay_ms;dispo_after_ms;dispo_ms;hangup_after_ms)")
        mode = cells[0].strip()
        if mode not in AGENT_MODES:
            raise InjectionFileError(f"{source}:{line}: mode {mode!r}: use one of {', '.join(AGENT_MODES)}")
        names = ("answer_delay_ms", "dispo_after_ms", "dispo_ms", "hangup_after_ms")
        values = [_number(source, line, name, cells[i + 1]) for i, name in enumerate(names)]
        agents.append(AgentBehaviour(mode, *values))
    return order, agents


def _write(path: Path, order: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    lines = [order, *(f"# {line}" for line in header), *(";".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_caller_csv(path: str | Path, scripts: Iterable[CallerScript], *, order: str = "SEQUENTIAL",
                     comment: Sequence[str] = ()) -> Path:
    steps = ";".join(f"wait{i}_ms;keys{i};keys{i}_ms" for i in range(1, MAX_STEPS + 1))
    header = [*comment, f"caller;{steps};talk_ms"]
    return _write(Path(path), order, header, (s.row() for s in scripts))


def write_agent_csv(path: str | Path, agents: Iterable[AgentBehaviour], *, order: str = "SEQUENTIAL",
                    comment: Sequence[str] = ()) -> Path:
    header = [*comment, "mode;answer_delay_ms;dispo_after_ms;dispo_ms;hangup_after_ms"]
    return _write(Path(path), order, header, (a.row() for a in agents))
