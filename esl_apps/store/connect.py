"""One place that turns configuration into a Redis client, plain or through Sentinel.

Timeouts are short on purpose: a call waiting on a dead Redis is worse than a record spooled to
disk, and every caller in this project has a fallback (spool, ring everyone, voicemail).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

DEFAULT_URL = "redis://127.0.0.1:6379/0"
URL_ENV = "ESL_APPS_REDIS_URL"
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0


def connect(
    url: str | None = None,
    sentinel: tuple[Sequence[tuple[str, int]], str] | None = None,
    *,
    password: str | None = None,
    socket_timeout: float = COMMAND_TIMEOUT_S,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> aioredis.Redis:
    """A client (strings decoded) for ``url``, ``$ESL_APPS_REDIS_URL`` or localhost.

    ``sentinel`` is ``([(host, port), ...], service_name)``: the client follows the current master
    after a failover. No connection is opened until the first command.
    """
    options = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "decode_responses": True,
        "health_check_interval": 30,
        # After a Redis restart every pooled connection is dead; one quick reconnect-and-retry
        # makes the first command after the restart succeed instead of failing (or spooling).
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.01), 1),
        "retry_on_error": [RedisConnectionError],
    }
    if sentinel is not None:
        addresses, service = sentinel
        watcher = Sentinel(
            list(addresses),
            sentinel_kwargs={"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout},
            password=password,
            **options,
        )
        return watcher.master_for(service)
    target = url or os.environ.get(URL_ENV) or DEFAULT_URL
    if password is not None:
        options["password"] = password
    return aioredis.from_url(target, **options)


def parse_sentinel_addresses(addresses: Sequence[str]) -> list[tuple[str, int]]:
    """``["10.0.0.11:26379", ...]`` (the YAML form) to ``[("10.0.0.11", 26379), ...]``."""
    parsed: list[tuple[str, int]] = []
    for item in addresses:
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"sentinel address {item!r} is not host:port")
        parsed.append((host.strip("[]"), int(port)))
    return parsed
