"""``esl-apps agents``: supervisors change and list agent state in the shared Redis."""

from __future__ import annotations

import json
import time

import pytest
import redis

from esl_apps.cli import main
from esl_apps.config import load_config
from tests.support.redis_server import free_port


def agents(redis_url: str, *argv: str) -> int:
    return main(["agents", "--redis", redis_url, *argv])


def test_login_pause_list_and_logout(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert agents(redis_url, "login", "alice", "bob") == 0
    assert capsys.readouterr().out.splitlines() == ["alice: available", "bob: available"]
    assert agents(redis_url, "pause", "bob", "--reason", "lunch") == 0
    assert capsys.readouterr().out.strip() == "bob: paused (lunch)"
    assert agents(redis_url, "list", "--group", "sales", "--json") == 0
    rows = {r["agent"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    shipped = load_config().pbx  # the example configuration the command uses by default
    assert list(rows) == [m.agent for m in shipped.members_of("sales")]  # in ring order
    assert (rows["alice"]["status"], rows["bob"]["status"]) == ("available", "paused")
    assert rows["bob"]["reason"] == "lunch"
    assert rows["carol"]["status"] == "logged_out" and rows["alice"]["reserved_by"] is None
    assert agents(redis_url, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["AGENT", "STATE"] and len(table) == 1 + len(shipped.agents)
    assert any(line.startswith("bob") and "paused (lunch)" in line for line in table)
    assert agents(redis_url, "unpause", "bob") == 0
    assert agents(redis_url, "logout", "alice") == 0
    assert capsys.readouterr().out.splitlines() == ["bob: available", "alice: logged_out"]


def test_bad_input_and_unreachable_redis(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert agents(redis_url, "login", "mallory") == 2
    assert "unknown agent(s) mallory" in capsys.readouterr().err
    assert agents(redis_url, "list", "--group", "nope") == 2
    assert agents(f"redis://127.0.0.1:{free_port()}/0", "login", "alice") == 3
    assert "Redis is unreachable" in capsys.readouterr().err


def test_login_and_unpause_tell_queued_callers_an_agent_is_free(redis_url: str) -> None:
    # The queues of every node listen on <prefix>:notify:agents (esl_apps.features.queue_signals).
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    listener = client.pubsub()
    listener.subscribe(f"{load_config().pbx.redis.key_prefix}:notify:agents")
    try:
        assert listener.get_message(timeout=5)["type"] == "subscribe"  # listening before any change
        for argv in (["login", "alice"], ["pause", "alice"], ["unpause", "alice"], ["logout", "alice"],
                     ["pause", "bob"], ["unpause", "bob"]):  # bob is logged out: stays so, no message
            assert agents(redis_url, *argv) == 0
        messages = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # everything published has arrived by then
            message = listener.get_message(timeout=0.1)
            if message is not None:
                messages.append(message["data"])
        assert messages == ["alice", "alice"]  # login, unpause
    finally:
        listener.close()
        client.close()
