"""End-to-end rig for the ring-group runtime: the FreeSWITCH emulator over TCP, one or more
``OutboundServer`` instances (each its own ``RedisGroupRinger``, like separate ``esl-apps serve``
nodes) and a real Redis. Each node has its own inbound extension (``7100``, ``7101`` ...), so a test
chooses which node takes a call; agents are emulated SIP phones with scripted behaviour.

What tests assert on comes from the emulator (ring log, bridges, applications run on the caller's
leg, voicemail deposits) and from Redis (agent state, queue, callbacks, record streams).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esl_apps.config import load_config
from esl_apps.config.pbx import PbxConfig
from esl_apps.engine.ringer import RingContext, RingOutcome
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundServer, OutboundSession
from esl_apps.features.agents import AgentStore
from esl_apps.features.queue import QueueTiming
from esl_apps.features.ringgroup_runtime import RedisGroupRinger
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.sim.record import RingAttempt
from esl_apps.store.connect import connect
from esl_apps.store.records import RecordLog

AGENTS = ("alice", "bob", "carol", "dave", "erin", "frank")
DOMAIN = "pbx.example.com"


def endpoint(agent: str) -> str:
    return f"user/{1001 + AGENTS.index(agent)}@{DOMAIN}"


def make_pbx(groups: Mapping[str, Mapping[str, Any]], queues: Mapping[str, Mapping[str, Any]] | None = None,
             **extra: Any) -> PbxConfig:
    data: dict[str, Any] = {
        "domain": DOMAIN,
        "esl": {"password_env": "ESL_APPS_ESL_PASSWORD"},
        "dialplan": {"internal_context": "default", "wrapup_extension": "7140"},
        "agents": [
            {"id": a, "name": a.title(), "extension": str(1001 + n),
             "endpoints": [f"user/{1001 + n}@${{domain}}"]}
            for n, a in enumerate(AGENTS)
        ],
        "ring_groups": {
            gid: {"name": gid.title(), "wrapup_seconds": 0} | dict(g) for gid, g in groups.items()
        },
        "queues": dict(queues or {}),
        "voicemail": {"boxes": {"sales": {"number": "8001"}, "billing": {"number": "8003"}}},
        "callbacks": {"caller_id": "+442071234567", "confirm_number": True},
    } | extra
    return PbxConfig.model_validate(data)


@dataclass
class Node:
    ringer: RedisGroupRinger
    extension: str
    server: OutboundServer | None = None
    outcomes: dict[str, RingOutcome] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)


class Rig:
    def __init__(self, redis_url: str, spool: Path, pbx: PbxConfig, *, group: str, queue: str | None = None,
                 nodes: int = 1, time_scale: float = 0.02, timing: QueueTiming | None = None,
                 phones: Mapping[str, AgentBehaviour] | None = None,
                 redis_timeout_s: float | None = None) -> None:
        """``redis_timeout_s`` replaces the clients' short production timeouts (1 s connect, 2 s
        command): a test of the Redis path on a loaded machine must not fall back to ringing
        everyone because a connection took a second to open."""
        self.redis_url = redis_url
        self.spool = spool
        self.pbx = pbx
        self.group = group
        self.queue = queue
        self.node_count = nodes
        self.emu = Emulator(time_scale=time_scale)
        self.timing = timing or QueueTiming(recheck_s=2.0, retry_after_s=2.0)
        self.phones = dict(phones or {})
        self.codebook = load_config().dispositions
        self.nodes: list[Node] = []
        self.handled: dict[str, asyncio.Event] = {}
        self.redis: Any = None
        self.records: RecordLog | None = None
        self.redis_timeouts: dict[str, float] = (
            {} if redis_timeout_s is None
            else {"socket_timeout": redis_timeout_s, "connect_timeout": redis_timeout_s}
        )

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Rig:
        self.redis = connect(self.redis_url, **self.redis_timeouts)
        self.records = RecordLog(self.redis, self.spool)
        await self.emu.start()
        self.emu.add_extension("7140", [("hangup", "NORMAL_CLEARING")], "default")  # wrap-up entry
        for agent in AGENTS:
            self.emu.add_endpoint(endpoint(agent), self.phones.get(agent, AgentBehaviour(answer_after_s=1.0)))
        for n in range(self.node_count):
            await self._add_node(n)
        return self

    async def _add_node(self, n: int) -> None:
        assert self.records is not None
        client = connect(self.redis_url, **self.redis_timeouts)
        ringer = RedisGroupRinger(
            client, RecordLog(client, self.spool / f"node{n}"), self.pbx, owner_id=f"node-{n}",
            clock=lambda: datetime.fromtimestamp(self.emu.clock.now(), UTC), sleep=self.emu.clock.sleep,
            codebook=self.codebook, timing=self.timing,
        )
        node = Node(ringer, str(7100 + n))
        node.server = OutboundServer(self._handler(node), "127.0.0.1", 0, max_calls=5000, end_timeout_s=0.5)
        await node.server.start()
        self.emu.add_extension(node.extension, [("socket", f"127.0.0.1:{node.server.port} async full")])
        self.nodes.append(node)

    def _handler(self, node: Node) -> Any:
        async def handle(session: OutboundSession) -> None:
            call = FreeSwitchCall(session)
            done = self.handled.setdefault(call.uuid, asyncio.Event())
            ctx = RingContext(pbx=self.pbx, flow="test", node="ring", variables={}, queue=self.queue,
                              logger=logging.getLogger("test.ringgroup"))
            try:
                await call.answer()
                node.outcomes[call.uuid] = await node.ringer.ring(call, self.group, ctx)
                await call.hangup()
            except Exception as exc:  # CallHangup is the caller's business; anything else fails the test
                if type(exc).__name__ != "CallHangup":
                    node.errors.append(exc)
                raise
            finally:
                done.set()

        return handle

    async def __aexit__(self, *exc: object) -> None:
        await self.emu.stop()
        for node in self.nodes:
            assert node.server is not None
            await node.server.stop(0.5)
            await node.ringer.aclose()
            await node.ringer.records.close()  # type: ignore[attr-defined]
            await node.ringer.redis.aclose()  # type: ignore[union-attr]
        if self.records is not None:
            await self.records.close()
        await self.redis.aclose()
        errors = [e for node in self.nodes for e in node.errors]
        if errors and not exc[0]:
            raise errors[0]

    # -- driving --------------------------------------------------------------------------------
    async def login(self, *agents: str) -> AgentStore:
        store = AgentStore(self.redis)
        for agent in agents or AGENTS:
            await store.login(agent)
        return store

    async def call(self, node: int = 0, **script: Any) -> Any:
        return await self.emu.place_call(self.nodes[node].extension, script=CallerScript(**script))

    async def finished(self, call: Any, timeout: float = 10.0) -> RingOutcome | None:
        """Wait until every leg of the call is gone and the node's handler has returned."""
        await call.wait_done(timeout)
        done = self.handled.setdefault(call.uuid, asyncio.Event())
        await asyncio.wait_for(done.wait(), timeout)
        return self.outcome(call)

    def outcome(self, call: Any) -> RingOutcome | None:
        for node in self.nodes:
            if call.uuid in node.outcomes:
                return node.outcomes[call.uuid]
        return None

    async def records_of(self, stream: str) -> list[dict[str, Any]]:
        assert self.records is not None
        await asyncio.sleep(0)
        return [r async for r in self.records.read(stream)]

    # -- what the emulator saw ------------------------------------------------------------------
    def agent_of(self, attempt: RingAttempt) -> str:
        return AGENTS[int(attempt.endpoint.split("/")[1].split("@")[0]) - 1001]

    def rings(self, call: Any | None = None) -> list[tuple[str, str]]:
        """(agent, outcome) of every ring attempt, in the order they started."""
        log: Sequence[RingAttempt] = call.record.ring_attempts if call is not None else self.emu.ring_log
        return [(self.agent_of(a), a.outcome) for a in sorted(log, key=lambda a: a.start)]

    def caller_apps(self, call: Any, name: str | None = None) -> list[tuple[str, str]]:
        return [(a.app, a.arg) for a in call.record.apps
                if a.leg == call.uuid and (name is None or a.app == name)]
