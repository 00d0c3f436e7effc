"""Build the Redis client and record log a command needs from the configuration.

Every long-running command (serve, callbacks run, report, agents ...) needs the same two things;
building them in one place keeps the password, Sentinel and spool handling identical everywhere.
"""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from esl_apps.config.settings import RedisSettings
from esl_apps.store.connect import connect, parse_sentinel_addresses
from esl_apps.store.records import RecordLog


def redis_from_settings(settings: RedisSettings, url_override: str | None = None) -> aioredis.Redis:
    """A client for ``url_override`` if given, else the configured URL or Sentinel service."""
    password = settings.password()
    if url_override:
        return connect(url_override, password=password)
    if settings.sentinel is not None:
        addresses = parse_sentinel_addresses(settings.sentinel.addresses)
        return connect(sentinel=(addresses, settings.sentinel.service), password=password)
    return connect(settings.effective_url, password=password)


def record_log_from_settings(
    settings: RedisSettings, url_override: str | None = None, spool_dir: Path | None = None
) -> RecordLog:
    return RecordLog(
        redis_from_settings(settings, url_override),
        spool_dir or Path(settings.spool_dir),
        settings.key_prefix,
    )
