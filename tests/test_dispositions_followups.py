"""Follow-ups per code: do-not-call (and the dialer honouring it), scheduled callback, QA review,
webhooks that never delay the call. Real Redis, real HTTP server, the emulator for the calls."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import redis.asyncio as aioredis

from esl_apps.config.dispositions import Codebook
from esl_apps.features.callback_store import CallbackStore
from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.dispositions_hotkeys import HotkeyStore
from esl_apps.features.dispositions_webhook import WebhookSender
from esl_apps.features.dnc import DncList
from esl_apps.features.followups import FollowupJob, Followups, disposition_request_id
from esl_apps.sim import AgentBehaviour
from esl_apps.store.records import RecordLog
from tests.support.callbacks_rig import CallbackRig, callback_config
from tests.support.dispositions_rig import CALLER, DispositionRig, codebook, config_with, stored
from tests.support.redis_server import free_port


def run(coro):
    return asyncio.run(coro)


async def _wrapup(redis_url: str, spool: Path, agent: AgentBehaviour, *, book: Codebook | None = None,
                  webhooks: WebhookSender | None = None):
    client = aioredis.from_url(redis_url)
    records = RecordLog(client, spool)
    config = config_with(book)
    followups = Followups(config.dispositions, records, dnc=DncList(client), callbacks=CallbackStore(client),
                          webhooks=webhooks)
    app = DispositionApp(config, records, None, followups, hotkeys=HotkeyStore(client))
    try:
        async with DispositionRig(app) as rig:
            await rig.call(agent)
            return rig, client, records
    except BaseException:
        await records.close()
        await client.aclose()
        raise


def test_do_not_call_code_lists_the_number_and_the_dialer_never_dials_it(redis_url, tmp_path):
    async def scenario():
        agent = AgentBehaviour(wrapup_digits=["30#", "1"])  # "do not call"
        _, client, records = await _wrapup(redis_url, tmp_path / "spool", agent)
        try:
            blocked = await DncList(client).is_blocked(CALLER)
            dnc_records = [r async for r in records.read("dnc")]
        finally:
            await records.close()
            await client.aclose()
        # the same number asked for a callback later: the dialer refuses it
        async with CallbackRig(redis_url, tmp_path / "spool2", callback_config(agents=1)) as cb:
            cb.customer(CALLER)
            await cb.store.add(request_id="later", number=CALLER, group="cb", arrival_ms=1)
            await cb.run_until_done([await cb.dialer()], timeout_s=20)
            return blocked, dnc_records, cb.rings(CALLER), await cb.events()

    blocked, dnc_records, rings, events = run(scenario())
    assert blocked is True
    assert dnc_records[0]["number"] == CALLER and dnc_records[0]["code"] == "30"
    assert rings == 0
    assert [(e["event"], e["outcome"]) for e in events] == [("failed", "dnc")]


def test_callback_code_schedules_a_request_at_the_keyed_time(redis_url, tmp_path):
    async def scenario():
        agent = AgentBehaviour(wrapup_digits=["15#", "1", "90#"])  # callback requested, in 90 minutes
        _, client, records = await _wrapup(redis_url, tmp_path / "spool", agent)
        try:
            [record] = await stored(redis_url)
            request = await CallbackStore(client).get("sales", disposition_request_id(record["call_uuid"]))
            requested = [r async for r in records.read("callbacks")]
            return record, request, requested
        finally:
            await records.close()
            await client.aclose()

    before = int(time.time() * 1000)
    record, request, requested = run(scenario())
    assert record["codes"] == ["15"]
    assert abs(record["callback_at"] - (before + 90 * 60_000)) < 60_000
    assert request is not None and request.status == "pending" and request.number == CALLER
    assert request.not_before_ms == record["callback_at"] and request.group == "sales"
    assert requested[0]["event"] == "requested" and requested[0]["source"] == "disposition"


def test_invalid_callback_time_is_asked_again(redis_url, tmp_path):
    async def scenario():
        agent = AgentBehaviour(wrapup_digits=["24#", "1", "199901010900#", "30#"])
        rig, client, records = await _wrapup(redis_url, tmp_path / "spool", agent)
        await records.close()
        await client.aclose()
        return rig, await stored(redis_url)

    rig, [record] = run(scenario())
    assert "flite|kal|That time cannot be used." in [arg for _, arg in rig.apps("speak")]
    assert record["codes"] == ["24"] and "callback_at" in record


def test_qa_review_code_is_queued_for_review(redis_url, tmp_path):
    async def scenario():
        agent = AgentBehaviour(wrapup_digits=["21*51#", "1"])  # not interested, negative (QA)
        _, client, records = await _wrapup(redis_url, tmp_path / "spool", agent)
        try:
            return [r async for r in records.read("qa_review")]
        finally:
            await records.close()
            await client.aclose()

    [review] = run(scenario())
    assert review["codes"] == ["21", "51"] and review["reasons"] == ["51 Negative"]
    assert review["agent"] == "alice"


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    arrived = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()
        type(self).arrived.set()

    def log_message(self, *args: object) -> None:
        return None


def test_webhook_endpoint_down_delays_nothing_and_the_post_arrives_after_a_retry(redis_url, tmp_path):
    port = free_port()
    data = codebook().model_dump()
    for code in data["codes"]:
        if code["code"] == "23":
            code["webhook"] = f"http://127.0.0.1:{port}/hooks/sale?token=secret"
    book = Codebook.model_validate(data)
    server: list[HTTPServer] = []

    async def scenario():
        sender = WebhookSender(max_attempts=8, backoff_initial_s=0.2, backoff_max_s=0.5, timeout_s=1.0)
        agent = AgentBehaviour(wrapup_digits=["23#", "1"])  # sale closed: webhook
        rig, client, records = await _wrapup(redis_url, tmp_path / "spool", agent, book=book, webhooks=sender)
        sender.records = records
        try:
            pending_when_call_ended = sender.pending  # the wrap-up leg is already hung up
            await asyncio.sleep(0.3)  # at least one attempt has failed by now: nobody listens
            httpd = HTTPServer(("127.0.0.1", port), _Hook)
            server.append(httpd)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            arrived = await asyncio.to_thread(_Hook.arrived.wait, 10)
            await sender.close(5)
            results = [r async for r in records.read("webhooks")]
            return rig, pending_when_call_ended, arrived, results
        finally:
            await records.close()
            await client.aclose()

    try:
        rig, pending, arrived, results = run(scenario())
    finally:
        for httpd in server:
            httpd.shutdown()
    assert rig.wrapups[0].record["codes"] == ["23"]
    assert pending == 1  # the call ended while the delivery was still being retried
    assert arrived
    [post] = _Hook.received
    assert post["type"] == "application/json"
    assert post["body"]["codes"] == ["23"] and post["body"]["event"] == "disposition"
    assert post["body"]["call_uuid"] == rig.wrapups[0].call_uuid
    [result] = results
    assert result["event"] == "delivered" and result["attempts"] >= 2
    assert "token" not in result["url"]  # no secrets in the records


def test_webhook_gives_up_after_max_attempts_and_records_the_failure(redis_url, tmp_path):
    async def scenario():
        client = aioredis.from_url(redis_url)
        records = RecordLog(client, tmp_path / "spool")
        sender = WebhookSender(records, max_attempts=3, backoff_initial_s=0.01, timeout_s=0.5)
        followups = Followups(codebook(), records, webhooks=sender)
        job = FollowupJob("c1", ("23",), {"call_uuid": "c1", "codes": ["23"]})
        data = codebook().model_dump()
        try:
            outcome = await followups.run(job)
            await sender.close(5)
            return outcome, [r async for r in records.read("webhooks")], data
        finally:
            await records.close()
            await client.aclose()

    outcome, results, _ = run(scenario())
    assert outcome.webhooks == 1
    [result] = results
    assert result["event"] == "failed" and result["attempts"] == 3 and result["call_uuid"] == "c1"
