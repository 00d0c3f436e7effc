#!/usr/bin/env python3
"""Benchmark: validate + build the dialplan of a generated 10,000-agent / 500-group configuration.

The target (issue 2) is load_config + build under 1 s together on one core. The configuration
comes from ``scripts/bench_config.py`` (the configuration benchmark), so both measure the same
data. Each run builds into a fresh directory (every file written, the worst case); the figure
printed is the best of ``--runs``, with the median beside it.

    python scripts/bench_build.py                   # 10,000 agents / 500 groups / 500 DIDs
    python scripts/bench_build.py --profile         # plus the top functions of one build
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_config import generate_config  # a sibling script, found through sys.path

from esl_apps.config import load_config
from esl_apps.dialplan import build_dialplan, render_dialplan
from esl_apps.dialplan.builder import gc_paused
from esl_apps.dialplan.model import build_model
from esl_apps.dialplan.render import render_files
from esl_apps.dialplan.verify import verify
from esl_apps.dialplan.writer import apply, plan


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned (no sched_setaffinity)"


def _best(samples: list[float]) -> str:
    return f"{min(samples) * 1000:7.1f} ms (median {statistics.median(samples) * 1000:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--dids", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the top functions of one build")
    args = parser.parse_args(argv)
    pinned = _pin_one_core()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        conf_dir, flows_dir = generate_config(root / "src", args.agents, args.groups, args.dids)
        config = load_config(conf_dir, flows_dir)  # warm-up (imports, template compilation)
        build_dialplan(config, root / "warm")

        load_t, model_t, render_t, verify_t, files_t, write_t, total_t = [], [], [], [], [], [], []
        size = 0
        for run in range(args.runs):
            t0 = time.perf_counter()
            config = load_config(conf_dir, flows_dir)
            t1 = time.perf_counter()
            result = build_dialplan(config, root / f"out{run}")
            t2 = time.perf_counter()
            load_t.append(t1 - t0)
            write_t.append(t2 - t1)
            total_t.append(t2 - t0)
            size = sum(len(text.encode()) for text in result.rendered.files.values())
            # The parts of the build, measured separately on the same configuration (with the
            # garbage collector paused, as build_dialplan does).
            with gc_paused():
                t3 = time.perf_counter()
                model = build_model(config)
                t4 = time.perf_counter()
                files = render_files(model)
                t5 = time.perf_counter()
                assert not verify(model, files)
                t6 = time.perf_counter()
                apply(plan(root / f"parts{run}", files))
                t7 = time.perf_counter()
            model_t.append(t4 - t3)
            render_t.append(t5 - t4)
            verify_t.append(t6 - t5)
            files_t.append(t7 - t6)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(render_dialplan, config)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    print(
        f"build: {args.agents} agents, {args.groups} ring groups, {args.dids} DIDs -> "
        f"{size / 1e6:.1f} MB of XML; best of {args.runs}, {pinned}"
    )
    print(f"  load_config (validate)       {_best(load_t)}")
    print(f"    model (fallbacks, dial strings) {_best(model_t)}")
    print(f"    render (Jinja2)                 {_best(render_t)}")
    print(f"    verify (parse + route every number) {_best(verify_t)}")
    print(f"    write (compare + atomic writes)     {_best(files_t)}")
    print(f"  build_dialplan (model+render+verify+write) {_best(write_t)}")
    print(f"  TOTAL validate + build       {_best(total_t)}  (target < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
