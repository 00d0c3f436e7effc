"""Shared fixtures: a real redis-server per test session, flushed before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_fixtures import REQUIRED_MODULES, missing_modules
from tests.support.live_fs import ENV_DIALPLAN_DIR, DialplanDir, LiveSettings
from tests.support.redis_server import RedisServer

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of a running, empty Redis. Tests that stop the server must restart it before returning."""
    if redis_server.process is None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


# ------------------------------------------------------------------ a real FreeSWITCH (opt-in)
# Used by tests/test_live_freeswitch*.py (marker `freeswitch`); see docs/live-testing.md.


@pytest.fixture(scope="module")
def live() -> LiveSettings:
    """Skips the whole module (one reason) unless a FreeSWITCH is configured and reachable."""
    settings = LiveSettings.from_env()
    if isinstance(settings, str):
        pytest.skip(settings)
    problem = settings.unreachable()
    if problem:
        pytest.skip(problem)
    return settings


@pytest.fixture(scope="module")
def dialplan(live: LiveSettings) -> Iterator[DialplanDir]:
    if live.dialplan_dir is None:
        pytest.skip(f"set {ENV_DIALPLAN_DIR} (e.g. /etc/freeswitch/dialplan) for the call tests")
    missing = missing_modules(live, REQUIRED_MODULES)
    if missing:  # configured but unfit: a failure to fix, not a skip (docs/live-testing.md)
        pytest.fail(f"FreeSWITCH lacks {', '.join(missing)}: load them in modules.conf.xml")
    directory = DialplanDir(live)
    try:
        yield directory
    finally:
        directory.restore()


@pytest.fixture(scope="module")
def app_port(live: LiveSettings, dialplan: DialplanDir) -> int:
    """One port for the whole module, so the test extension is written (and reloaded) once."""
    return live.free_app_port()


