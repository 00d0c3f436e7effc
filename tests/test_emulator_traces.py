"""The emulator against every recorded FreeSWITCH conversation.

For each trace section the application's (or inbound client's) commands are replayed against the
emulator with a caller script / agent behaviour matching the recorded scenario, and what the
emulator sends back is compared with what FreeSWITCH sent: the same messages in the same order,
with the same key headers (Application, Application-Response, Answer-State, Hangup-Cause,
Channel-State, DTMF-Digit, Other-Leg-Destination-Number...) and bridge/read outcome variables.
CHANNEL_PARK and log/data are left out (racy or not emulated); linger/disconnect notices are
compared as a set because their position is a race in FreeSWITCH too.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from esl_apps.esl.tracefile import read_trace
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.sim.replay import SectionReplay

TRACES = Path(__file__).parent / "fixtures" / "esl-traces"
# Media time is scaled to wall time (0.01: a recorded second lasts 10 ms). On a machine busy enough
# to delay a timer by tens of milliseconds, two events a recorded 0.5 s apart can swap; a section that
# differs is played again 5x slower, so what fails is the emulator's behaviour, not the scheduler's.
SCALES = (0.01, 0.05)
A1 = "sofia/external/agent1@127.0.0.1:5091"
A2 = "sofia/external/agent2@127.0.0.1:5092"
SOCKET = "127.0.0.1:{port} async full"
FALLBACK_7199 = [("log", "NOTICE ESLTRACE 7199 fallback reached"), ("answer", ""),
                 ("playback", "tone_stream://%(1000,0,350)"), ("hangup", "NORMAL_CLEARING")]


@dataclass
class Scenario:
    trace: str
    section: int  # 1-based, as in the trace file
    extensions: Callable[[int, int], dict[str, list[tuple[str, str]]]]  # (app port, dead port) -> dialplan
    destination: str | None = "7100"
    script: CallerScript = field(default_factory=CallerScript)
    endpoints: dict[str, AgentBehaviour] = field(default_factory=dict)
    password: str | None = "ClueCon"
    vm_prompts_missing: bool = False
    extra_vars: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.trace[:3]}-{self.section}"


def app_only(port: int, dead: int) -> dict[str, list[tuple[str, str]]]:
    return {"7100": [("socket", SOCKET.format(port=port))], "7140": [("socket", SOCKET.format(port=port))]}


def with_fallback(number: str, *, socket_arg: str = SOCKET, pre: tuple[tuple[str, str], ...] = ()):  # type: ignore[no-untyped-def]
    def build(port: int, dead: int) -> dict[str, list[tuple[str, str]]]:
        target = dead if number == "7150" else port
        return {number: [*pre, ("socket", socket_arg.format(port=target)),
                         ("log", f"NOTICE ESLTRACE {number} after socket action"),
                         ("transfer", "7199 XML public")],
                "7199": FALLBACK_7199}
    return build


def voicemail_plan(port: int, dead: int) -> dict[str, list[tuple[str, str]]]:
    return {**app_only(port, dead), "7180": [("answer", ""), ("voicemail", "default 127.0.0.1 1000")]}


def inbound_plan(port: int, dead: int) -> dict[str, list[tuple[str, str]]]:
    return {"9000": [("answer", ""), ("playback", "tone_stream://%(2000,0,440)"), ("hangup", "")],
            "9002": [("answer", ""), ("park", "")]}


RINGS = {A1: AgentBehaviour(mode="no_answer")}
BUSY = {A1: AgentBehaviour(mode="busy", busy_after_s=0.3)}
AGENT = {A1: AgentBehaviour(answer_after_s=2.0)}
WRAPUP = {A1: AgentBehaviour(answer_after_s=2.0, wrapup_digits=["3#"])}
BYE_AFTER_ANSWER = CallerScript(hangup_after_s=5.5)

SCENARIOS = [
    Scenario("01-outbound-basic.txt", 1, app_only, script=CallerScript(hangup_after_s=5.0)),
    Scenario("02-outbound-dtmf.txt", 1, app_only, script=CallerScript(digits=["12#"])),
    Scenario("02-outbound-dtmf.txt", 2, app_only),
    Scenario("02-outbound-dtmf.txt", 3, app_only, script=CallerScript(digits=["9#", "2#"])),
    Scenario("03a-outbound-bridge-noanswer.txt", 1, app_only, endpoints=RINGS),
    Scenario("03a-outbound-bridge-noanswer.txt", 2, app_only, endpoints=RINGS),
    Scenario("03a-outbound-bridge-noanswer.txt", 3, app_only, endpoints=RINGS),
    Scenario("03b-outbound-bridge-busy.txt", 1, app_only, endpoints=BUSY),
    Scenario("03b-outbound-bridge-busy.txt", 2, app_only, endpoints=BUSY),
    Scenario("03c-outbound-bridge-answer.txt", 1, app_only, endpoints=AGENT, script=BYE_AFTER_ANSWER),
    Scenario("03c-outbound-bridge-answer.txt", 2, app_only,
             endpoints={A1: AgentBehaviour(answer_after_s=2.0, talk_s=3.0)}),
    Scenario("03d-outbound-bridge-sequential.txt", 1, app_only, script=CallerScript(hangup_after_s=9.0),
             endpoints={A1: AgentBehaviour(mode="no_answer"), A2: AgentBehaviour(answer_after_s=1.0)}),
    Scenario("03e-outbound-bridge-simultaneous.txt", 1, app_only, script=BYE_AFTER_ANSWER,
             endpoints={A1: AgentBehaviour(mode="no_answer"), A2: AgentBehaviour(answer_after_s=2.0)}),
    Scenario("04a-agent-wrapup-transfer_after_bridge.txt", 1, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04a-agent-wrapup-transfer_after_bridge.txt", 2, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04b-agent-wrapup-park_after_bridge.txt", 1, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04c-agent-wrapup-exec_after_bridge_app.txt", 1, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04d-agent-wrapup-hangup_after_bridge_false.txt", 1, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04e-agent-wrapup-originate-uuid_bridge.txt", 1, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04e-agent-wrapup-originate-uuid_bridge.txt", 2, app_only, endpoints=WRAPUP,
             script=BYE_AFTER_ANSWER),
    Scenario("04f-agent-meta-dtmf.txt", 1, app_only, script=CallerScript(hangup_after_s=7.0),
             endpoints={A1: AgentBehaviour(answer_after_s=2.0, hotkeys=[(1.0, "*1"), (2.5, "*2")])}),
    Scenario("05-recording.txt", 1, app_only),
    Scenario("06a-failure-no-listener.txt", 1, with_fallback("7150"), destination="7150"),
    Scenario("06a-failure-no-listener.txt", 2, with_fallback("7151"), destination="7151"),
    Scenario("06b-failure-app-disconnect.txt", 1, with_fallback("7160"), destination="7160"),
    Scenario("06b-failure-app-disconnect.txt", 2, with_fallback("7161", pre=(("set", "socket_resume=true"),)),
             destination="7161"),
    Scenario("06b-failure-app-disconnect.txt", 3, with_fallback("7160"), destination="7160"),
    Scenario("06b-failure-app-disconnect.txt", 4, with_fallback("7160"), destination="7160"),
    Scenario("06b-failure-app-disconnect.txt", 5, app_only),
    Scenario("06b-failure-app-disconnect.txt", 6, with_fallback("7162", socket_arg="127.0.0.1:{port} full"),
             destination="7162"),
    Scenario("06c-failure-malformed-commands.txt", 1, app_only),
    Scenario("07-inbound.txt", 1, inbound_plan, destination=None),
    Scenario("07-inbound.txt", 2, inbound_plan, destination=None),
    Scenario("08-voicemail.txt", 1, voicemail_plan, script=CallerScript(hangup_after_s=6.0, audio_s=7.0)),
    Scenario("08-voicemail.txt", 2, voicemail_plan, script=CallerScript(hangup_after_s=6.0, audio_s=7.0)),
    Scenario("08-voicemail.txt", 3, voicemail_plan, script=CallerScript(hangup_after_s=6.0, audio_s=7.0),
             vm_prompts_missing=True),
]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _run(scenario: Scenario, scale: float) -> SectionReplay:
    section = read_trace(TRACES / scenario.trace)[scenario.section - 1]
    emu = Emulator(time_scale=scale, inbound_password=scenario.password)
    emu.voicemail_prompts_missing = scenario.vm_prompts_missing
    await emu.start()
    replay = SectionReplay(section, scale, timeout=15.0)
    try:
        port = await replay.start()
        for number, actions in scenario.extensions(port, _dead_port()).items():
            emu.add_extension(number, actions)
        for endpoint, behaviour in scenario.endpoints.items():
            emu.add_endpoint(endpoint, behaviour)
        await replay.connect_inbound(emu.inbound_port or 0)
        await replay.inbound_ready()
        call = None
        if scenario.destination is not None:
            call = await emu.place_call(scenario.destination, script=scenario.script)
        await replay.wait()
        if call is not None:
            await call.wait_done(10.0)
    finally:
        await emu.stop()
    return replay


def _diff(mine: list, theirs: list) -> str:
    lines = []
    for a, b in itertools.zip_longest(mine, theirs):
        mark = "  " if a == b else "!!"
        lines.append(f"{mark} emu:   {a}")
        if a != b:
            lines.append(f"   trace: {b}")
    return "\n".join(lines)


# Seconds of media that depend on when the application's commands arrived (the replay sends them at
# the recorded gaps, in scaled wall time): compared to within a second; everything else exactly.
DURATION_VARS = {"record_seconds": int, "voicemail_message_len": lambda hms: sum(
    int(part) * 60**i for i, part in enumerate(reversed(hms.split(":"))))}


def _same(mine: tuple, theirs: tuple) -> bool:
    if mine == theirs:
        return True
    if mine[0] != "event" or theirs[0] != "event" or mine[:3] != theirs[:3]:
        return False
    a, b = dict(mine[3]), dict(theirs[3])
    if a.keys() != b.keys():
        return False
    for name, value in a.items():
        if value == b[name]:
            continue
        parse = DURATION_VARS.get(name)
        if parse is None or abs(parse(value) - parse(b[name])) > 1:
            return False
    return True


def _differences(scenario: Scenario, replay: SectionReplay) -> list[str]:
    found = []
    for conn in replay.section.connections:
        if not conn:
            continue
        (mine, my_notices), (theirs, their_notices) = replay.compare(conn, scenario.extra_vars)
        if len(mine) != len(theirs) or not all(map(_same, mine, theirs)):
            found.append(f"{scenario.id} {conn}:\n{_diff(mine, theirs)}")
        if sorted(my_notices) != sorted(their_notices):
            found.append(f"{scenario.id} {conn}: notices {sorted(my_notices)} != {sorted(their_notices)}")
    return found


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_emulator_reproduces_trace(scenario: Scenario) -> None:
    for scale in SCALES:
        try:
            differences = _differences(scenario, asyncio.run(_run(scenario, scale)))
        except TimeoutError:  # the replay waited for a message that came in another order
            differences = [f"{scenario.id}: the replay timed out waiting for the emulator"]
        if not differences:
            return
    raise AssertionError(f"at time scale {SCALES[-1]}:\n" + "\n".join(differences))
