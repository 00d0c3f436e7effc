"""Prometheus metrics: the hand-written exposition parses, and a scrape during real calls (serve's
stack, the emulator running the generated dialplan, a real Redis) shows what is happening."""

from __future__ import annotations

import asyncio
import math
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from esl_apps.cli import main as cli_main
from esl_apps.config import load_config
from esl_apps.features.agents import AgentStore
from esl_apps.ops.metrics import Registry, format_value
from esl_apps.sim import CallerScript, Emulator
from esl_apps.store.connect import connect
from tests.support.faults_rig import (
    CALLER,
    DID,
    LONG_PROMPT,
    LONG_PROMPT_S,
    build_dialplan,
    free_port,
    write_config,
)

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_exposition(text: str) -> dict[str, Any]:
    """A strict reader of the text format (0.0.4): every line is HELP, TYPE or a sample of a
    declared metric; -> {"types": {name: type}, "samples": {(name, labels...): value}}."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: dict[tuple[Any, ...], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"HELP twice for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram") and name in helps
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, raw_labels, value = match.groups()
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert base in types, f"sample {name} before its TYPE"
        labels: list[tuple[str, str]] = []
        if raw_labels:
            consumed = "".join(m.group(0) for m in _LABEL.finditer(raw_labels))
            assert consumed == raw_labels, f"bad labels {raw_labels!r}"
            labels = [(k, v.encode().decode("unicode_escape")) for k, v in _LABEL.findall(raw_labels)]
        key = (name, *sorted(labels))
        assert key not in samples, f"duplicate series {key}"
        samples[key] = float(value.replace("+Inf", "inf"))
    return {"types": types, "samples": samples}


def value(parsed: dict[str, Any], name: str, **labels: str) -> float | None:
    return parsed["samples"].get((name, *sorted(labels.items())))


def test_exposition_format_counters_gauges_histograms_and_escaping():
    registry = Registry()
    calls = registry.counter("t_calls_total", "calls\nby outcome", ("outcome",))
    calls.inc(outcome="bridged")
    calls.inc(2, outcome='say "hi"\\ \n')
    gauge = registry.gauge("t_agents", "agents", ("state",))
    gauge.replace([({"state": "available"}, 3), ({"state": "paused"}, 1)])
    hist = registry.histogram("t_latency_seconds", "latency", (0.001, 0.01, 0.1))
    for v in (0.0005, 0.001, 0.002, 0.05, 3.0):
        hist.observe(v)
    parsed = parse_exposition(registry.exposition())
    assert parsed["types"] == {
        "t_calls_total": "counter", "t_agents": "gauge", "t_latency_seconds": "histogram"
    }
    assert value(parsed, "t_calls_total", outcome="bridged") == 1
    assert value(parsed, "t_calls_total", outcome='say "hi"\\ \n') == 2
    assert value(parsed, "t_agents", state="paused") == 1
    buckets = [value(parsed, "t_latency_seconds_bucket", le=le) for le in ("0.001", "0.01", "0.1", "+Inf")]
    assert buckets == [2, 3, 4, 5]  # cumulative; 0.001 itself is in le="0.001"
    assert value(parsed, "t_latency_seconds_count") == 5
    assert math.isclose(value(parsed, "t_latency_seconds_sum") or 0, 3.0535)
    gauge.replace([({"state": "available"}, 2)])  # a state no longer present disappears
    assert value(parse_exposition(registry.exposition()), "t_agents", state="paused") is None
    assert format_value(float("inf")) == "+Inf" and format_value(1e20) == "1e+20"


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.counter("no_suffix", "x"),
        lambda r: r.gauge("bad-name", "x"),
        lambda r: r.gauge("g", "x", ("le",)),
        lambda r: r.histogram("h", "x", ()),
        lambda r: r.counter("c_total", "x", ("a",)).inc(-1, a="x"),
        lambda r: r.counter("c_total", "x", ("a",)).inc(b="x"),
    ],
)
def test_metric_misuse_is_refused(build):
    with pytest.raises(ValueError):
        build(Registry())


def _scrape(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_scrape_during_calls_shows_active_calls_agents_queue_outcomes_and_latency(tmp_path, redis_url):
    from esl_apps.commands.serve import Service

    port = free_port()
    conf, flows = write_config(tmp_path, app_port=port, redis_url=redis_url)
    dirs = build_dialplan(conf, flows, tmp_path / "dialplan")
    config = load_config(conf, flows)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], tuple[int, str, str], int]:
        client = connect(redis_url)
        agents = AgentStore(client, "esl")
        for agent in ("alice", "bob", "dave"):
            await agents.login(agent)
        await agents.pause("dave", "lunch")  # support has a logged-in agent, none free: callers queue
        service = Service(
            config, listen=("127.0.0.1", port), health=None, redis_url=redis_url,
            spool_dir=tmp_path / "spool", metrics=("127.0.0.1", 0), grace_s=1,
        )
        await service.start()
        emu = Emulator(time_scale=0.02, light_records=True)
        await emu.start()
        try:
            for directory in dirs:
                emu.load_dialplan_xml(directory)
            emu.file_durations[LONG_PROMPT] = LONG_PROMPT_S
            url = f"http://127.0.0.1:{service.metrics_server.port}/metrics"
            waiting = await emu.place_call(DID, caller_number=CALLER, script=CallerScript(digits=["", "2"]))
            in_menu = await emu.place_call(DID, caller_number=CALLER, script=CallerScript(digits=["", ""]))
            done = await emu.place_call(DID, caller_number=CALLER, script=CallerScript(digits=["", "9"]))
            await done.wait_done(20)
            for _ in range(200):  # until the queued caller has its place
                if await client.zcard("esl:{rg:support}:q:support:wait"):
                    break
                await asyncio.sleep(0.02)
            for _ in range(200):  # and the finished call's session has sent exit (after its last events)
                if service.server.active_calls <= 2:
                    break
                await asyncio.sleep(0.02)
            during = parse_exposition((await asyncio.to_thread(_scrape, url))[2])
            waiting.hangup()
            in_menu.hangup()
            await waiting.wait_done(20)
            await in_menu.wait_done(20)
            for _ in range(100):
                if service.server.active_calls == 0:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.05)  # Redis is read at most once a second
            status, content_type, text = await asyncio.to_thread(_scrape, url)
            after = parse_exposition(text)
            missing = await asyncio.to_thread(_scrape, url.replace("/metrics", "/nope"))
        finally:
            await emu.stop()
            await service.stop()
            await client.aclose()
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        return during, after, missing, len(emu.ring_log)

    during, after, missing, _ = asyncio.run(scenario())
    assert value(during, "esl_apps_calls_active") == 2  # the queued caller and the one in the menu
    assert value(during, "esl_apps_calls_max") == 2000
    assert value(during, "esl_apps_calls_total", entry="did", outcome="hangup") == 1
    assert value(during, "esl_apps_agents", state="available") == 2
    assert value(during, "esl_apps_agents", state="paused") == 1
    assert value(during, "esl_apps_agents", state="logged_out") == 5
    assert value(during, "esl_apps_queue_length", queue="support", group="support") == 1
    assert value(during, "esl_apps_redis_up") == 1 and value(during, "esl_apps_spool_pending") == 0
    # serve froze its start-up heap (esl/heap.py); no full sweep within the first interval
    assert value(during, "esl_apps_gc_frozen_objects") > 1000
    assert value(during, "esl_apps_gc_sweeps_total") == 0
    latency_count = value(during, "esl_apps_esl_latency_seconds_count") or 0
    assert latency_count >= 10  # every command after an awaited completion or reply was measured
    assert value(during, "esl_apps_esl_latency_seconds_bucket", le="+Inf") == latency_count

    assert value(after, "esl_apps_calls_active") == 0
    assert value(after, "esl_apps_queue_length", queue="support", group="support") == 0
    assert value(after, "esl_apps_calls_total", entry="did", outcome="caller_hangup") == 2
    assert missing[0] == 404


def test_metrics_port_out_of_range_is_a_usage_error(capsys):
    assert cli_main(["serve", "--metrics-port", "70000", "--health", "off"]) == 2
    assert "--metrics-port" in capsys.readouterr().err
