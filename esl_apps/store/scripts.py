"""Lua scripts shipped with the package, loaded once per client and run with EVALSHA.

redis-py's ``AsyncScript`` sends EVALSHA with a locally computed SHA1 (no load round trip) and
reloads the body on NOSCRIPT (after a Redis restart or SCRIPT FLUSH), so every call stays one
round trip in the steady state.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript


@cache
def lua_source(name: str, *, with_common: bool = False) -> str:
    """The body of ``lua/<name>.lua``; ``with_common`` prepends the shared agent-pool helpers."""
    package = resources.files("esl_apps.store") / "lua"
    body = (package / f"{name}.lua").read_text(encoding="utf-8")
    if with_common:
        body = (package / "pool_common.lua").read_text(encoding="utf-8") + "\n" + body
    return body


def register(client: aioredis.Redis, name: str, *, with_common: bool = False) -> AsyncScript:
    return client.register_script(lua_source(name, with_common=with_common))
