#!/usr/bin/env python3
"""Benchmark: load + validate a large generated configuration (10,000 agents, 500 ring groups).

The target (issue 2) is validate + dialplan build under 1 s together on one core, so validation
should stay well under 0.6 s. ``generate_config`` is importable so the dialplan benchmark builds
from the same data:

    python scripts/bench_config.py                 # 10,000 agents / 500 groups, best of 5
    python scripts/bench_config.py --agents 2000 --groups 100 --runs 3 --keep /tmp/bigconf
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from esl_apps import resources
from esl_apps.config import load_config
from esl_apps.config.pbx import PbxConfig
from esl_apps.config.yamlmarks import parse_yaml

# The example flows name these; the generated configuration keeps them so the flows validate too.
_FIXED_GROUPS = ("sales", "support", "billing")


def _group_ids(groups: int) -> list[str]:
    return [*_FIXED_GROUPS, *(f"g{n:04d}" for n in range(len(_FIXED_GROUPS), groups))]


def generate_pbx_yaml(agents: int, groups: int, dids: int) -> str:
    """A pbx.yaml with ``agents`` agents spread evenly over ``groups`` ring groups."""
    strategies = ("simultaneous", "sequential", "round_robin", "longest_idle", "fewest_calls", "random")
    group_ids = _group_ids(groups)
    lines = [
        "domain: pbx.example.com",
        "esl: {host: 127.0.0.1, port: 8021, password_env: ESL_APPS_ESL_PASSWORD, app_listen: 127.0.0.1:8084}",
        "redis: {url: redis://127.0.0.1:6379/0}",
        "dialplan: {context: public, internal_context: default, wrapup_extension: '7140'}",
        "schedules:",
        "  office:",
        "    timezone: Europe/London",
        "    weekly: {mon-fri: ['08:00-18:00'], sat: ['09:00-13:00']}",
        "    holidays: [2026-12-25, {date: 2026-12-24, hours: ['08:00-12:00']}]",
        "  support_hours:",
        "    timezone: Europe/London",
        "    weekly: {mon-fri: ['08:00-20:00'], 'sat,sun': ['10:00-16:00']}",
        "recording: {default_policy: opt_out}",
        "agents:",
    ]
    for n in range(agents):
        ext = 100000 + n
        lines.append(
            f"  - {{id: a{n:05d}, name: Agent {n}, extension: '{ext}', "
            f"endpoints: ['user/{ext}@${{domain}}'], skills: [s{n % 7}]}}"
        )
    lines.append("ring_groups:")
    per_group = max(1, agents // groups)
    for g, gid in enumerate(group_ids):
        first = (g * per_group) % max(agents, 1)
        members = ", ".join(f"a{(first + k) % agents:05d}" for k in range(min(per_group, agents)))
        lines += [
            f"  {gid}:",
            f"    name: Group {g}",
            f"    extension: '{200000 + g}'",
            f"    strategy: {strategies[g % len(strategies)]}",
            f"    members: [{members}]",
            "    ring_timeout: 20",
            f"    voicemail: vm_{gid}",
            "    schedule: office",
        ]
        if gid == "support":
            lines.append("    queue: support")
        next_group = group_ids[(g + 1) % len(group_ids)]
        if next_group not in ("sales", gid):  # a chain, never a loop back to the start
            lines.append(f"    overflow: [{{when: [no_answer], to: {{group: {next_group}}}}}]")
    lines += [
        "queues:",
        "  support: {group: support, max_wait: 300, max_length: 50,",
        "            leave_keys: {'1': voicemail, '2': callback}}",
        "voicemail:",
        "  boxes:",
    ]
    lines += [f"    vm_{gid}: {{number: '{300000 + g}', name: Box {g}}}" for g, gid in enumerate(group_ids)]
    # The example flows name boxes sales/support/billing.
    lines += [f"    {gid}: {{number: '{400000 + g}'}}" for g, gid in enumerate(_FIXED_GROUPS)]
    lines.append("dids:")
    for d in range(dids):
        flow = "main" if d % 2 == 0 else "support"
        lines.append(f"  - {{number: '+4420{7000000 + d}', name: Line {d}, flow: {flow}, schedule: office}}")
    lines.append("callbacks: {caller_id: '+442071234567', max_attempts: 3, schedule: office}")
    return "\n".join(lines) + "\n"


def generate_config(
    directory: Path, agents: int = 10_000, groups: int = 500, dids: int = 500
) -> tuple[Path, Path]:
    """Write conf/ and ivr_flows/ under ``directory``; returns (conf_dir, flows_dir)."""
    conf_dir, flows_dir = directory / "conf", directory / "ivr_flows"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "pbx.yaml").write_text(generate_pbx_yaml(agents, groups, dids), encoding="utf-8")
    shutil.copy(resources.example_conf_dir() / "dispositions.yaml", conf_dir / "dispositions.yaml")
    shutil.copytree(resources.example_flows_dir(), flows_dir, dirs_exist_ok=True)
    return conf_dir, flows_dir


def _time(func, runs: int) -> tuple[float, float, float]:
    """(best wall time, median wall time, best CPU time); CPU time is steadier on a busy machine."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), statistics.median(wall), min(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--dids", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the generated configuration here and keep it")
    parser.add_argument("--profile", action="store_true", help="print the top functions of one run")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        conf_dir, flows_dir = generate_config(root, args.agents, args.groups, args.dids)
        size = (conf_dir / "pbx.yaml").stat().st_size
        config = load_config(conf_dir, flows_dir)  # warm-up, and proof that it is valid
        assert len(config.pbx.agents) == args.agents and len(config.pbx.ring_groups) == args.groups

        text = (conf_dir / "pbx.yaml").read_text(encoding="utf-8")
        parsed, _, _ = parse_yaml(text, "pbx.yaml")
        parse_best, _, parse_cpu = _time(lambda: parse_yaml(text, "pbx.yaml"), args.runs)
        model_best, _, model_cpu = _time(lambda: PbxConfig.model_validate(parsed), args.runs)
        best, median, cpu = _time(lambda: load_config(conf_dir, flows_dir), args.runs)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(load_config, conf_dir, flows_dir)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    print(
        f"config: {args.agents} agents, {args.groups} ring groups, {args.dids} DIDs "
        f"(pbx.yaml {size / 1e6:.1f} MB), best of {args.runs}; wall / CPU"
    )
    print(f"  YAML parse with marks        {parse_best * 1000:7.1f} / {parse_cpu * 1000:7.1f} ms")
    print(f"  pydantic models (pbx.yaml)   {model_best * 1000:7.1f} / {model_cpu * 1000:7.1f} ms")
    print(
        f"  load_config (all of it)      {best * 1000:7.1f} / {cpu * 1000:7.1f} ms"
        f" (median wall {median * 1000:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
