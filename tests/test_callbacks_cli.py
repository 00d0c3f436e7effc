"""``esl-apps callbacks add|list|cancel`` against Redis, and ``run --once`` against the emulator."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json

import redis.asyncio as aioredis

from esl_apps.cli import main
from esl_apps.commands.callbacks import serve_dialer
from esl_apps.features.agents import AgentStore
from esl_apps.features.callback_store import CallbackStore
from esl_apps.sim import AgentBehaviour, Emulator
from esl_apps.store.records import RecordLog
from tests.support.dispositions_rig import config_with


def test_add_list_cancel(redis_url, capsys):
    base = ["callbacks", "--redis", redis_url]
    assert main([*base, "add", "--group", "sales", "--number", "+44 7700 900123"]) == 0
    first = capsys.readouterr().out.strip()
    later = ["--at", "2099-01-01T09:00"]
    assert main([*base, "add", "--group", "sales", "--number", "+447700900124", *later]) == 0
    second = capsys.readouterr().out.strip()
    assert main([*base, "list", "--group", "sales", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["request_id"] for r in listed] == [first, second]  # dialling order: arrival
    assert listed[0]["number"] == "+447700900123" and listed[1]["not_before_ms"] > listed[0]["arrival_ms"]
    assert main([*base, "list"]) == 0
    text = capsys.readouterr().out
    assert "waiting until 2099-01-01 09:00:00 UTC" in text and first in text
    assert main([*base, "cancel", first]) == 0
    assert f"{first} cancelled (was pending)" in capsys.readouterr().out
    assert main([*base, "cancel", first]) == 1
    assert "already cancelled" in capsys.readouterr().err
    assert main([*base, "cancel", "no-such-request"]) == 1
    assert main([*base, "list", "--json"]) == 0
    assert [json.loads(line)["request_id"] for line in capsys.readouterr().out.splitlines()] == [second]


def test_add_rejects_a_non_number_and_an_unknown_group(redis_url, capsys):
    base = ["callbacks", "--redis", redis_url]
    assert main([*base, "add", "--group", "sales", "--number", "call me maybe"]) == 2
    assert main([*base, "add", "--group", "nosuch", "--number", "+447700900123"]) == 2
    assert "no ring group 'nosuch'" in capsys.readouterr().err


def test_cancel_is_recorded_in_the_callbacks_stream(redis_url, tmp_path, capsys):
    base = ["callbacks", "--redis", redis_url]
    main([*base, "add", "--group", "support", "--number", "+447700900125"])
    request = capsys.readouterr().out.strip()
    main([*base, "cancel", request])

    async def events():
        client = aioredis.from_url(redis_url)
        try:
            log = RecordLog(client, tmp_path)
            return [(r["event"], r["request_id"]) async for r in log.read("callbacks")]
        finally:
            await client.aclose()

    assert asyncio.run(events()) == [("requested", request), ("cancelled", request)]


def test_run_once_dials_the_due_requests_and_exits(redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", "cli-test-password")

    async def scenario():
        emu = Emulator(time_scale=0.01, inbound_password="cli-test-password")
        await emu.start()
        base = config_with()
        pbx = base.pbx.model_copy(update={
            "esl": base.pbx.esl.model_copy(update={"port": emu.inbound_port}),
            "callbacks": base.pbx.callbacks.model_copy(update={"schedule": None}),  # any time of day
            "redis": base.pbx.redis.model_copy(update={"spool_dir": str(tmp_path / "spool")}),
        })
        config = dataclasses.replace(base, pbx=pbx)
        client = aioredis.from_url(redis_url)
        for n, agent in enumerate(("alice", "bob", "carol"), 1):  # the sales group of the example
            await AgentStore(client).login(agent)
            emu.add_endpoint(f"user/100{n}@pbx.example.com", AgentBehaviour(answer_after_s=0.5))
        emu.add_endpoint("sofia/gateway/carrier/+447700900126", AgentBehaviour(answer_after_s=1, talk_s=30))
        store = CallbackStore(client)
        await store.add(request_id="cli-1", number="+447700900126", group="sales", arrival_ms=1)
        args = argparse.Namespace(redis=redis_url, once=True, poll=0.05, max_parallel=2, customer_ring=20,
                                  spool_dir=None)
        try:
            code = await serve_dialer(config, args)
            return code, await store.get("sales", "cli-1"), [r.endpoint for r in emu.ring_log]
        finally:
            await client.aclose()
            await emu.stop()

    code, request, rang = asyncio.run(scenario())
    assert code == 0
    assert request is not None and request.status == "completed" and request.attempts == 1
    assert rang[-1] == "sofia/gateway/carrier/+447700900126" and rang[0].startswith("user/100")


def test_run_without_freeswitch_exits_3(redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", "x")
    base = config_with()
    nowhere = base.pbx.esl.model_copy(update={"port": 1, "connect_timeout": 0.5})
    pbx = base.pbx.model_copy(update={"esl": nowhere})
    args = argparse.Namespace(redis=redis_url, once=True, poll=0.05, max_parallel=2, customer_ring=20,
                              spool_dir=tmp_path)
    assert asyncio.run(serve_dialer(dataclasses.replace(base, pbx=pbx), args)) == 3
