"""Redis stopped under load, then started again: not one consent decision, callback request or
disposition is lost, and none is stored twice.

``esl-apps serve`` runs as a process against a Redis with persistence (AOF, as in production;
the records written before the stop must survive it), the emulator runs the generated dialplan
and places one call a second for 60 s; Redis is down for 30 of them, as the issue asks (at
time_scale 0.05 that is ten minutes of call activity): every kind of record is written during
the outage (checked below through the metrics: Redis down, spool pending).
The counts in Redis afterwards are compared with what the emulator saw happen on the calls.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from esl_apps.features.agents import AgentStore
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.store.connect import connect
from tests.support.faults_rig import (
    CALLER,
    DID,
    LONG_PROMPT,
    LONG_PROMPT_S,
    SALES_AGENTS,
    SALES_ENDPOINTS,
    WRAPUP_CODE,
    PersistentRedis,
    ServeProcess,
    build_dialplan,
    free_port,
    write_config,
)

RATE = 1  # calls a second
CALLS = 60
OUTAGE = (15, 45)  # Redis stops before call 15 and starts again before call 45 (30 s)


def _metrics(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def _stream(client: Any, name: str) -> list[dict[str, Any]]:
    return [json.loads(fields["data"]) for _, fields in await client.xrange(f"esl:stream:{name}")]


def _spool_empty(spool: Path) -> bool:
    return not spool.exists() or not any(
        p.name == "spool.jsonl" or p.name.endswith(".replaying") for p in spool.iterdir()
    )


def _script(i: int) -> tuple[str, CallerScript]:
    """Every third caller rings sales (and hangs up on the agent, 12 s after the app answered:
    consent takes 6, so about 4 s of talk; then the agent's wrap-up), requests a callback, or
    hangs up at the menu; every fifth declines recording."""
    choice = "149"[i % 3]
    digits = ["9" if i % 5 == 0 else "", choice] + (["1"] if choice == "4" else [])
    return choice, CallerScript(digits=digits, hangup_after_s=12 if choice == "1" else None)


@pytest.mark.slow
def test_redis_outage_under_load_loses_no_record(tmp_path):
    redis_server = PersistentRedis(tmp_path / "redis")
    redis_server.start()
    port = free_port()
    conf, flows = write_config(tmp_path / "cfg", app_port=port, redis_url=redis_server.url)
    dirs = build_dialplan(conf, flows, tmp_path / "dialplan")
    spool = tmp_path / "spool"
    serve = ServeProcess(
        conf, flows, port=port, redis_url=redis_server.url, spool=spool, extra=["--metrics-port", "0"]
    )

    async def scenario() -> dict[str, Any]:
        client = connect(redis_server.url)  # retries a connection the restart killed
        agents = AgentStore(client, "esl")
        for agent in SALES_AGENTS:
            await agents.login(agent)
        ready = await asyncio.to_thread(serve.start)
        emu = Emulator(time_scale=0.05, light_records=True)
        await emu.start()
        seen: dict[str, Any] = {}
        try:
            for directory in dirs:
                emu.load_dialplan_xml(directory)
            emu.file_durations[LONG_PROMPT] = LONG_PROMPT_S
            for endpoint in SALES_ENDPOINTS:
                wrapup = AgentBehaviour(answer_after_s=1, wrapup_digits=[f"{WRAPUP_CODE}#", "1"])
                emu.add_endpoint(endpoint, wrapup)
            calls = []
            during: dict[str, float] = {}
            started = time.monotonic()
            for i in range(CALLS):
                if i == OUTAGE[0]:
                    await asyncio.to_thread(redis_server.stop)
                if i == OUTAGE[1] - 1:
                    during = await asyncio.to_thread(_metrics, ready["metrics"])
                if i == OUTAGE[1]:
                    await asyncio.to_thread(redis_server.start)
                choice, script = _script(i)
                calls.append((choice, await emu.place_call(DID, caller_number=CALLER, script=script)))
                await asyncio.sleep(max(0.0, started + (i + 1) / RATE - time.monotonic()))
            records = await asyncio.gather(*(call.wait_done(60) for _, call in calls))
            deadline = time.monotonic() + 45
            while not _spool_empty(spool) and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            await asyncio.sleep(0.5)
            seen = {
                "choices": [choice for choice, _ in calls],
                "records": records,
                "during": during,
                "consent": await _stream(client, "consent"),
                "callbacks": await _stream(client, "callbacks"),
                "dispositions": await _stream(client, "dispositions"),
                "calls": await _stream(client, "calls"),
                "spool_empty": _spool_empty(spool),
            }
        finally:
            await emu.stop()
            await client.aclose()
            serve.kill()
            redis_server.stop()
        return seen

    seen = asyncio.run(scenario())
    records = seen["records"]
    uuids = [r.uuid for r in records]

    # the outage was real and hit the calls: Redis unreadable, records waiting on disk
    assert seen["during"]["esl_apps_redis_up"] == 0
    assert seen["during"]["esl_apps_spool_pending"] == 1
    assert any("spooling records" in line.get("msg", "") for line in serve.lines)
    assert seen["spool_empty"], "the spool was not replayed"

    # consent: one decision per call, the one the caller heard applied on the channel
    decided = {r.uuid: r.variables["esl_consent_decision"] for r in records}
    assert Counter(decided.values()) == {"consented": 48, "declined": 12}
    stored = Counter(c["call_uuid"] for c in seen["consent"])
    assert stored == Counter(uuids), "a consent record is missing or stored twice"
    assert {c["call_uuid"]: c["decision"] for c in seen["consent"]} == decided

    # callback requests: every caller who confirmed the number has exactly one request
    confirmed = [r.uuid for r in records if r.variables.get("esl_callback_confirm") == "1"]
    assert len(confirmed) == seen["choices"].count("4") == 20
    requests = Counter(c["call_uuid"] for c in seen["callbacks"] if c.get("event") == "callback_requested")
    assert requests == Counter(confirmed)

    # dispositions: every wrap-up the agent confirmed on the phone is stored once, with its code
    wrapped = sorted(
        r.uuid for r in records
        for leg_uuid, leg in r.legs.items()
        if leg_uuid != r.uuid and leg.vars.get("esl_disposition_confirm") == "1"
    )
    assert len(wrapped) == seen["choices"].count("1") == 20
    agent_dispositions = [d for d in seen["dispositions"] if d.get("source") == "agent"]
    assert sorted(d["call_uuid"] for d in agent_dispositions) == wrapped
    assert all(d["codes"] == [WRAPUP_CODE] for d in agent_dispositions)

    # and every call's trace
    assert Counter(c["call_uuid"] for c in seen["calls"]) == Counter(uuids)
