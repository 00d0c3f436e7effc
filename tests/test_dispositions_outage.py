"""Redis stopped during wrap-up: every disposition is spooled to disk and replayed exactly once."""

from __future__ import annotations

import asyncio
import stat

import redis.asyncio as aioredis

from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.dispositions_hotkeys import HotkeyStore
from esl_apps.features.dnc import DncList
from esl_apps.features.followups import Followups
from esl_apps.sim import AgentBehaviour
from esl_apps.store.records import RecordLog
from tests.support.dispositions_rig import DispositionRig, config_with, stored


def test_redis_down_during_100_wrapups_then_replayed_exactly_once(redis_server, redis_url, tmp_path):
    spool = tmp_path / "spool"

    async def scenario():
        client = aioredis.from_url(redis_url, socket_connect_timeout=0.5)
        records = RecordLog(client, spool, auto_replay=False)
        config = config_with()
        followups = Followups(config.dispositions, records, dnc=DncList(client))
        app = DispositionApp(config, records, None, followups, hotkeys=HotkeyStore(client))
        redis_server.stop()
        try:
            async with DispositionRig(app) as rig:
                # 30 = do not call: its follow-up must survive the outage too; 40 = purchase intent
                uuids = await rig.calls(100, AgentBehaviour(wrapup_digits=["30*40#", "1"]))
            spooled = sorted(p.name for p in spool.iterdir())
            mode = stat.S_IMODE(spool.stat().st_mode)
        finally:
            redis_server.start()
        replayed = await records.replay()
        again = await records.replay()  # a second replay finds nothing left to store
        docs = [await records.get_doc(f"disposition:{u}") for u in uuids]
        dnc = DncList(client)
        await dnc.sync_from(records.stream_key("dnc"))  # what the callback dialer does each round
        blocked = await dnc.blocked_of([f"+4477009{n:05d}" for n in range(100)])
        await app.close()
        await records.close()
        await client.aclose()
        return rig, uuids, spooled, mode, replayed, again, docs, blocked

    rig, uuids, spooled, mode, replayed, again, docs, blocked = asyncio.run(scenario())
    assert len(rig.wrapups) == 100 and spooled and mode == 0o700
    assert replayed == 200 and again == 0  # 100 dispositions + their 100 do-not-call records
    records = asyncio.run(stored(redis_url))
    assert sorted(r["call_uuid"] for r in records) == sorted(uuids)  # each exactly once
    assert all(r["codes"] == ["30", "40"] and r["flagged"] is False for r in records)
    assert all(d is not None and d["codes"] == ["30", "40"] for d in docs)
    assert len(blocked) == 100  # every do-not-call code keyed during the outage now blocks its number
