"""The call-centre path on a REAL FreeSWITCH (opt-in; docs/live-testing.md): `esl-apps serve`'s
Service with a real Redis; a caller picks sales in the example menu, the Redis ring group bridges an
agent (a loopback leg that answers and stays), the caller hangs up, FreeSWITCH transfers the agent to
the wrap-up extension (transfer_after_bridge), the agent keys a disposition and confirms it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from esl_apps import resources
from esl_apps.commands.serve import Service
from esl_apps.config import load_config
from esl_apps.dialplan import build_dialplan
from esl_apps.features.agents import AgentStore
from esl_apps.store.connect import connect
from tests.support.live_fixtures import for_switch, missing_modules, run
from tests.support.live_fs import DialplanDir, FsControl, LiveSettings

pytestmark = [pytest.mark.freeswitch, pytest.mark.usefixtures("live")]

HOLD = "esl_apps_live_hold"  # answers and stays: an agent on the phone
HOLD_FILE = "public/91_esl_apps_live_agents.xml"


def hold_extension() -> str:
    return f"""<include>
  <!-- written by tests/test_live_freeswitch_callcentre.py and removed when it ends -->
  <extension name="{HOLD}">
    <condition field="destination_number" expression="^{HOLD}$">
      <action application="answer"/>
      <action application="park"/>
    </condition>
  </extension>
</include>
"""


def write_config(live: LiveSettings, app_port: int, tmp_path: Path) -> Path:
    """The example centre, open around the clock, not recording (this test is about routing), its
    sales agents on loopback phones, pointed at this switch (password in a 0600 file)."""
    conf = tmp_path / "conf"
    conf.mkdir()
    password = tmp_path / "esl.password"
    password.write_text(live.password)
    password.chmod(0o600)
    pbx = yaml.safe_load((resources.example_conf_dir() / "pbx.yaml").read_text())
    pbx["esl"] = {"host": live.host, "port": live.port, "password_file": str(password),
                  "app_listen": f"{live.app_host}:{app_port}"}
    pbx["schedules"]["office"] = {"timezone": "Europe/London", "weekly": {"mon-sun": ["00:00-24:00"]}}
    pbx["recording"] = {**pbx["recording"], "default_policy": "never", "directory": str(tmp_path / "rec"),
                        "audit_file": str(tmp_path / "audit.jsonl")}
    pbx["dialplan"] = {**pbx["dialplan"], "sounds_dir": str(tmp_path), "app_port": app_port}
    # agents confirm to a beep (a lab switch has no stock sound files)
    pbx["ring_groups"]["billing"]["confirm_prompt"] = "tone_stream://%(300,700,800);loops=30"
    for agent in pbx["agents"]:
        agent["endpoints"] = [f"loopback/{HOLD}/public"]
    (conf / "pbx.yaml").write_text(yaml.safe_dump(pbx))
    (conf / "dispositions.yaml").write_text((resources.example_conf_dir() / "dispositions.yaml").read_text())
    return conf


def executes(fs: FsControl, uuid: str, app: str) -> list[Any]:
    return [e for e in fs.events if e.get("Unique-ID") == uuid and e.name == "CHANNEL_EXECUTE"
            and e.get("Application") == app]


async def key_at_collection(fs: FsControl, leg: str, n: int, keys: str, via: str) -> None:
    """When the n-th play_and_get_digits starts on ``leg``, key ``keys`` on ``via`` (its loopback
    partner, from where mod_loopback delivers them to ``leg``)."""
    await fs.wait_for(lambda _: executes(fs, leg, "play_and_get_digits")[n - 1:] or None, 30,
                      f"collection #{n} on {leg}")
    await asyncio.sleep(0.5)
    await fs.api("uuid_send_dtmf", f"{via} {keys}")


@dataclasses.dataclass
class CentreCall:
    caller: str = ""
    agent: str = ""  # the agent's leg in the bridge (loopback a-leg)
    phone: str = ""  # its partner, the "phone" keys are sent from
    keyed_confirm_at: int = 0  # Event-Date-Timestamp (us) of the confirm key's DTMF on the agent leg
    bridged_at: int = 0
    dispositions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    interactions: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def centre_call(live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path, redis_url: str, *,
                agent: str, menu: list[str], confirm: bool) -> CentreCall:
    """Serve the example centre with only ``agent`` logged in, call the main DID, key ``menu``; when
    the agent's phone rings it answers (and presses 1 if ``confirm``); the caller hangs up after a
    second of talk; the agent keys 23# and confirms the disposition with 1."""
    if missing_modules(live, ("mod_flite",)):
        pytest.skip("the example flow's menus are spoken with mod_flite; load it to run this test")
    config = load_config(write_config(live, app_port, tmp_path), resources.example_flows_dir())
    did = config.pbx.dids[0]
    build_dialplan(for_switch(config, live.app_host, app_port), dialplan.root)
    dialplan.install(HOLD_FILE, hold_extension())
    assert dialplan.reload() == "+OK [Success]"
    seen = CentreCall()

    async def scenario() -> None:
        client = connect(redis_url)
        await AgentStore(client, config.pbx.redis.key_prefix).login(agent)
        service = Service(config, listen=(live.app_host, app_port), health=None, redis_url=redis_url,
                          spool_dir=tmp_path / "spool", grace_s=5)
        await service.start()
        try:
            async with FsControl(live) as fs:
                await fs.client.subscribe(["CHANNEL_EXECUTE", "CHANNEL_BRIDGE", "CHANNEL_ANSWER", "DTMF",
                                           "CHANNEL_HANGUP_COMPLETE"])
                caller_a = fs.originate(did.number.lstrip("+"), config.pbx.dialplan.context)
                ours = fs.b_leg_of(caller_a)
                seen.caller = (await fs.wait_for(lambda evs: [e for e in evs if ours(e.headers)] or None, 30,
                                                 "the caller's b-leg"))[0].get("Unique-ID")
                for n, keys in enumerate(menu, 1):
                    await key_at_collection(fs, seen.caller, n, keys, via=caller_a)
                picked_up = (await fs.wait_for(lambda evs: [
                    e for e in evs if e.name == "CHANNEL_ANSWER"
                    and e.get("Channel-Name") == f"loopback/{HOLD}-a"] or None, 40, "the agent's phone"))[0]
                seen.agent = picked_up.get("Unique-ID")
                partner = await fs.api("uuid_getvar", f"{seen.agent} other_loopback_leg_uuid")
                seen.phone = partner.body.strip()
                fs.track(seen.agent)
                fs.track(seen.phone)
                if confirm:
                    await asyncio.sleep(1.0)
                    await fs.api("uuid_send_dtmf", f"{seen.phone} 1")
                bridge = (await fs.wait_for(lambda evs: [
                    e for e in evs if e.name == "CHANNEL_BRIDGE" and e.get("Unique-ID") == seen.caller
                ] or None, 40, "bridge"))[0]
                seen.bridged_at = int(bridge.get("Event-Date-Timestamp") or 0)
                keyed = [e for e in fs.events if e.name == "DTMF" and e.get("Unique-ID") == seen.agent]
                seen.keyed_confirm_at = int(keyed[0].get("Event-Date-Timestamp") or 0) if keyed else 0
                await asyncio.sleep(1.0)
                await fs.api("uuid_kill", caller_a)  # the caller hangs up: the agent goes to wrap-up
                await key_at_collection(fs, seen.agent, 1, "23#", via=seen.phone)  # sale closed
                await key_at_collection(fs, seen.agent, 2, "1", via=seen.phone)  # confirm
                await fs.wait_for(lambda evs: [
                    e for e in evs if e.name == "CHANNEL_HANGUP_COMPLETE" and e.get("Unique-ID") == seen.agent
                ] or None, 30, "wrap-up end")
            await asyncio.sleep(0.5)
            assert service.records is not None
            seen.dispositions = [r async for r in service.records.read("dispositions")]
            seen.interactions = [r async for r in service.records.read("interactions")]
        finally:
            await service.stop()
            await client.aclose()

    run(scenario(), 150)
    return seen


def codes(call: CentreCall) -> list[tuple[str, str, list[str]]]:
    return [(d["call_uuid"], d["agent"], d["codes"]) for d in call.dispositions]


def test_ring_group_bridge_then_wrapup_disposition(live: LiveSettings, dialplan: DialplanDir, app_port: int,
                                                   tmp_path: Path, redis_url: str) -> None:
    call = centre_call(live, dialplan, app_port, tmp_path, redis_url, agent="alice", menu=["1"],
                       confirm=False)
    assert codes(call) == [(call.caller, "alice", ["23"])]
    assert [(i.get("agent"), i.get("group")) for i in call.interactions] == [("alice", "sales")]


def test_answer_confirm_bridges_only_after_the_agent_presses_1(
    live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path, redis_url: str
) -> None:
    """Billing has answer_confirm: FreeSWITCH beeps at grace's phone once it picks up and bridges the
    caller only after her 1 (group_confirm_key / group_confirm_file from the ring group's legs)."""
    call = centre_call(live, dialplan, app_port, tmp_path, redis_url, agent="grace", menu=["3", "2"],
                       confirm=True)
    assert call.keyed_confirm_at and call.bridged_at >= call.keyed_confirm_at
    assert codes(call) == [(call.caller, "grace", ["23"])]
    assert [(i.get("agent"), i.get("group")) for i in call.interactions] == [("grace", "billing")]
