"""connect(): a plain URL, the environment default, and Sentinel (built lazily, no server needed)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.sentinel import SentinelConnectionPool

from esl_apps.store.connect import URL_ENV, connect, parse_sentinel_addresses


def test_url_and_environment_default(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        for client in (connect(redis_url), connect()):
            assert await client.set("k", "v") and await client.get("k") == "v"  # strings, not bytes
            await client.aclose()

    monkeypatch.setenv(URL_ENV, redis_url)
    asyncio.run(main())


def test_sentinel_client_follows_the_named_service() -> None:
    client = connect(sentinel=(parse_sentinel_addresses(["10.0.0.11:26379", "[::1]:26380"]), "mymaster"))
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "mymaster"
    addresses = [(c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
                 for c in pool.sentinel_manager.sentinels]
    assert addresses == [("10.0.0.11", 26379), ("::1", 26380)]


def test_bad_sentinel_address_is_refused() -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_sentinel_addresses(["10.0.0.11"])
