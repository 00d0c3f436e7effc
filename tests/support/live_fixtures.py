"""Helpers shared by the live FreeSWITCH modules (tests/test_live_freeswitch*.py):
the modules a test needs, the configuration pointed at the test's server, and failures that name
the wire log (the fixtures, `live`, `dialplan`, `app_port`, are in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from esl_apps.config import Config
from tests.support.live_fs import CallRun, FsControl, LiveSettings

__all__ = ["REQUIRED_MODULES", "for_switch", "missing_modules", "run", "settle"]

T = TypeVar("T")
REQUIRED_MODULES = ("mod_commands", "mod_dptools", "mod_dialplan_xml", "mod_loopback", "mod_tone_stream",
                    "mod_sndfile", "mod_voicemail")


def run(coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def missing_modules(live: LiveSettings, modules: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` FreeSWITCH has NOT loaded (``api module_exists``)."""
    async def ask() -> list[str]:
        async with FsControl(live) as fs:
            return await fs.missing_modules(modules)

    return run(ask(), 15)


def settle(result: CallRun, tmp_path: Path) -> CallRun:
    """Keep the wire log; turn an application failure into a test failure that names it."""
    log = tmp_path / "wire.txt"
    log.write_text(result.tap.transcript(), encoding="utf-8")
    if result.error is not None:
        raise AssertionError(f"the call failed: {result.error!r} (wire log: {log})") from result.error
    assert result.session is not None, f"FreeSWITCH never reached the socket application (wire log: {log})"
    return result


def for_switch(config: Config, host: str, port: int) -> Config:
    """The configuration with the generated socket actions pointing at ``host:port``."""
    settings = config.pbx.dialplan.model_copy(update={"app_host": host, "app_port": port})
    return dataclasses.replace(config, pbx=config.pbx.model_copy(update={"dialplan": settings}))


