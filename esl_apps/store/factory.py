"""Build the Redis client a command needs from the configuration.

Every command (serve, callbacks run, report, agents ...) needs one; building it in one place keeps
the password and Sentinel handling identical everywhere.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from esl_apps.config.settings import RedisSettings
from esl_apps.store.connect import connect, parse_sentinel_addresses


def redis_from_settings(settings: RedisSettings, url_override: str | None = None) -> aioredis.Redis:
    """A client for ``url_override`` if given, else the configured URL or Sentinel service."""
    password = settings.password()
    if url_override:
        return connect(url_override, password=password)
    if settings.sentinel is not None:
        addresses = parse_sentinel_addresses(settings.sentinel.addresses)
        return connect(sentinel=(addresses, settings.sentinel.service), password=password)
    return connect(settings.effective_url, password=password)
