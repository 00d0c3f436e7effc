"""The call-centre path on a REAL FreeSWITCH (opt-in; docs/live-testing.md): `esl-apps serve`'s
Service with a real Redis; a caller picks sales in the example menu, the Redis ring group bridges an
agent (a loopback leg that answers and stays), the caller hangs up, FreeSWITCH transfers the agent to
the wrap-up extension (transfer_after_bridge), the agent keys a disposition and confirms it."""

from __future__ import annotations

import asyncio
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


def test_ring_group_bridge_then_wrapup_disposition(live: LiveSettings, dialplan: DialplanDir, app_port: int,
                                                   tmp_path: Path, redis_url: str) -> None:
    if missing_modules(live, ("mod_flite",)):
        pytest.skip("the example flow's menus are spoken with mod_flite; load it to run this test")
    config = load_config(write_config(live, app_port, tmp_path), resources.example_flows_dir())
    did = config.pbx.dids[0]
    build_dialplan(for_switch(config, live.app_host, app_port), dialplan.root)
    dialplan.install(HOLD_FILE, hold_extension())
    assert dialplan.reload() == "+OK [Success]"

    async def scenario() -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        client = connect(redis_url)
        await AgentStore(client, config.pbx.redis.key_prefix).login("alice")  # the only one free
        service = Service(config, listen=(live.app_host, app_port), health=None, redis_url=redis_url,
                          spool_dir=tmp_path / "spool", grace_s=5)
        await service.start()
        try:
            async with FsControl(live) as fs:
                await fs.client.subscribe(["CHANNEL_EXECUTE", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE"])
                caller_a = fs.originate(did.number.lstrip("+"), config.pbx.dialplan.context)
                ours = fs.b_leg_of(caller_a)
                caller = (await fs.wait_for(lambda evs: [e for e in evs if ours(e.headers)] or None, 30,
                                            "the caller's b-leg"))[0].get("Unique-ID")
                await key_at_collection(fs, caller, 1, "1", via=caller_a)  # main menu: sales
                bridge = await fs.wait_for(lambda evs: [
                    e for e in evs if e.name == "CHANNEL_BRIDGE" and e.get("Unique-ID") == caller] or None,
                    40, "bridge")
                agent = bridge[0].get("Other-Leg-Unique-ID")
                phone = (await fs.api("uuid_getvar", f"{agent} other_loopback_leg_uuid")).body.strip()
                fs.track(agent)
                fs.track(phone)
                await asyncio.sleep(1.0)
                await fs.api("uuid_kill", caller_a)  # the caller hangs up: the agent goes to wrap-up
                await key_at_collection(fs, agent, 1, "23#", via=phone)  # sale closed
                await key_at_collection(fs, agent, 2, "1", via=phone)  # confirm
                await fs.wait_for(lambda evs: [e for e in evs if e.name == "CHANNEL_HANGUP_COMPLETE"
                                               and e.get("Unique-ID") == agent] or None, 30, "wrap-up end")
            await asyncio.sleep(0.5)
            assert service.records is not None
            dispositions = [r async for r in service.records.read("dispositions")]
            interactions = [r async for r in service.records.read("interactions")]
            return caller, dispositions, interactions
        finally:
            await service.stop()
            await client.aclose()

    caller, dispositions, interactions = run(scenario(), 150)
    assert [(d["call_uuid"], d["agent"], d["codes"]) for d in dispositions] == [(caller, "alice", ["23"])]
    assert [(i.get("agent"), i.get("group")) for i in interactions] == [("alice", "sales")]
