"""RecordLog: records reach Redis exactly once, through outages, lost replies and interrupted replays."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from esl_apps.store.connect import connect
from esl_apps.store.records import MemoryRecordLog, RecordLog
from esl_apps.store.spool import SpooledRecord
from tests.support.redis_server import RedisServer


async def stream_records(log: RecordLog | MemoryRecordLog, stream: str, **kw: Any) -> list[dict[str, Any]]:
    return [r async for r in log.read(stream, **kw)]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_append_writes_stream_and_document_in_one_step(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, tmp_path / "spool")
        rid = await log.append("traces", {"call": "u1", "node": "menu"}, doc_key="call:u1", ttl_s=300)
        rows = await stream_records(log, "traces")
        assert rows == [{"call": "u1", "node": "menu", "_rid": rid, "_ts_ms": rows[0]["_ts_ms"]}]
        assert await log.get_doc("call:u1") == {"call": "u1", "node": "menu"}
        assert 0 < await client.ttl("esl:call:u1") <= 300
        assert await client.xlen("esl:stream:traces") == 1
        assert not (tmp_path / "spool" / "spool.jsonl").exists()
        with pytest.raises(TypeError):
            await log.append("traces", {"bad": object()})
        await client.aclose()

    asyncio.run(main())


def test_read_filters_by_append_time_and_maxlen_trims(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, tmp_path / "spool")
        for n in range(5):
            await log.append("s", {"n": n}, maxlen=1000)
            await asyncio.sleep(0.005)
        rows = await stream_records(log, "s")
        t1, t3 = rows[1]["_ts_ms"], rows[3]["_ts_ms"]
        assert [r["n"] for r in await stream_records(log, "s", since_ms=t1, until_ms=t3)] == [1, 2, 3]
        for n in range(300):
            await log.append("capped", {"n": n}, maxlen=10)
        assert await client.xlen("esl:stream:capped") < 300  # approximate trim (MAXLEN ~)
        await client.aclose()

    asyncio.run(main())


def test_memory_twin_behaves_like_redis(redis_url: str, tmp_path: Path) -> None:
    async def exercise(log: RecordLog | MemoryRecordLog) -> tuple[Any, ...]:
        for n in range(5):
            await log.append("dispositions", {"n": n, "code": f"2{n}"}, doc_key=f"disp:{n % 2}", ttl_s=60)
        await log.append("other", {"x": True})
        rows = await stream_records(log, "dispositions")
        strip = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        docs = (await log.get_doc("disp:0"), await log.get_doc("disp:1"), await log.get_doc("missing"))
        return strip, docs, len({r["_rid"] for r in rows}), await log.replay()

    async def main() -> None:
        client = connect(redis_url)
        with_redis = await exercise(RecordLog(client, tmp_path / "spool"))
        in_memory = await exercise(MemoryRecordLog())
        assert with_redis == in_memory
        assert with_redis[1][0] == {"n": 4, "code": "24"}
        await client.aclose()

    asyncio.run(main())


def test_outage_spools_then_replays_exactly_once(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"

    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, spool_dir, auto_replay=False)
        redis_server.stop()
        try:
            rids = [await log.append("disp", {"n": n}, doc_key=f"d:{n}") for n in range(100)]
        finally:
            redis_server.start()
        assert mode(spool_dir) == 0o700
        assert mode(spool_dir / "spool.jsonl") == 0o600
        assert len((spool_dir / "spool.jsonl").read_bytes().splitlines()) == 100
        # still spool-first after Redis is back, so order is kept
        rids.append(await log.append("disp", {"n": 100}))
        assert await log.replay() == 101
        assert await log.replay() == 0
        rows = await stream_records(log, "disp")
        assert [r["n"] for r in rows] == list(range(101))
        assert Counter(r["_rid"] for r in rows) == Counter(rids)
        assert await log.get_doc("d:99") == {"n": 99}
        assert list(spool_dir.iterdir()) == []
        # healthy again: straight to Redis
        await log.append("disp", {"n": 101})
        assert not (spool_dir / "spool.jsonl").exists()
        assert await client.xlen("esl:stream:disp") == 102
        await client.aclose()

    asyncio.run(main())


def test_interrupted_replay_rerun_stores_each_record_once(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"

    async def main() -> None:
        client = connect(redis_url)
        first = RecordLog(client, spool_dir, auto_replay=False)
        redis_server.stop()
        try:
            for n in range(100):
                await first.append("disp", {"n": n})
        finally:
            redis_server.start()
        # Stop half way: the rest stays on disk in the claimed file.
        assert await first.replay(max_records=50) == 50
        claimed = [p for p in spool_dir.iterdir() if p.name.endswith(".replaying")]
        assert len(claimed) == 1 and len(claimed[0].read_bytes().splitlines()) == 50
        # A crash after Redis took a batch but before the file was shrunk: records are on disk again.
        snapshot = tmp_path / "snapshot"
        shutil.copy(claimed[0], snapshot)
        assert await first.replay(max_records=20) == 20
        shutil.copy(snapshot, claimed[0])
        # A new process (new RecordLog on the same directory) finishes the job.
        second = RecordLog(client, spool_dir, auto_replay=False)
        assert await second.replay() == 30
        rows = await stream_records(second, "disp")
        assert sorted(r["n"] for r in rows) == list(range(100))
        assert len({r["_rid"] for r in rows}) == 100
        assert list(spool_dir.iterdir()) == []
        await client.aclose()

    asyncio.run(main())


def test_record_whose_reply_was_lost_is_not_duplicated(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, tmp_path / "spool", auto_replay=False)
        item = SpooledRecord(rid="f" * 32, stream="disp", data='{"n":1}', ts_ms=1)
        await log._write(item)  # Redis stored it, the client never saw the reply ...
        log.spool.write(item)  # ... so it spooled it too
        assert await log.replay() == 0
        assert await client.xlen("esl:stream:disp") == 1
        await client.aclose()

    asyncio.run(main())


def test_background_replayer_catches_up_after_outage(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, tmp_path / "spool")
        log.start_replayer(interval_s=0.05)
        redis_server.stop()
        try:
            for n in range(20):
                await log.append("disp", {"n": n})
            await asyncio.sleep(0.2)  # replay attempts fail and back off while Redis is down
        finally:
            redis_server.start()
        for _ in range(200):
            if await client.xlen("esl:stream:disp") == 20:
                break
            await asyncio.sleep(0.05)
        assert [r["n"] for r in await stream_records(log, "disp")] == list(range(20))
        await log.close()
        await client.aclose()

    asyncio.run(main())


def test_without_redis_everything_is_spooled(tmp_path: Path) -> None:
    async def main() -> None:
        log = RecordLog(None, tmp_path / "spool")
        await log.append("consent", {"decision": "declined"})
        assert await log.replay() == 0
        assert await log.get_doc("x") is None
        lines = (tmp_path / "spool" / "spool.jsonl").read_bytes().splitlines()
        assert SpooledRecord.from_line(lines[0]).data == '{"decision":"declined"}'

    asyncio.run(main())


def test_existing_spool_dir_is_tightened_and_torn_line_is_kept(redis_url: str, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o755)
    os.chmod(spool_dir, 0o755)
    good = SpooledRecord(rid="a" * 32, stream="s", data='{"ok":1}', ts_ms=5).to_line()
    (spool_dir / "spool.jsonl").write_bytes(good + b'{"rid": "torn')

    async def main() -> None:
        client = connect(redis_url)
        log = RecordLog(client, spool_dir, auto_replay=False)
        assert mode(spool_dir) == 0o700
        assert await log.replay() == 1
        bad = [p for p in spool_dir.iterdir() if p.suffix == ".bad"]
        assert len(bad) == 1 and bad[0].read_bytes() == b'{"rid": "torn\n'
        assert mode(bad[0]) == 0o600
        await client.aclose()

    asyncio.run(main())
