"""Side-by-side table for scripts/bench_runtime.py and its record in docs/benchmarks.md."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

GOAL_STEP_P99_MS = 5.0
GOAL_SETUP_P50_MS = 1.0
BEGIN = "<!-- bench_runtime:begin -->"
END = "<!-- bench_runtime:end -->"

Row = tuple[str, Callable[[dict], float | str | None], bool]  # label, value, ratio (lower is better)


def _pct(key: str, q: str) -> Callable[[dict], float | None]:
    return lambda r: r[key].get(q)


def _per_call_kb(r: dict) -> float | None:
    if not r["peak_active"]:
        return None
    return (r["rss_at_peak_kb"] - r["rss_idle_kb"]) / r["peak_active"]


def _waits(r: dict) -> str:
    """Run-queue wait per second of load: other processes on the machine delaying ours."""
    wall = r["wall_s"]
    return f"{r['app_runq_wait_s'] / wall * 1000:.0f} / {r['gen_runq_wait_s'] / wall * 1000:.0f}"


def _cpu_ms(r: dict) -> float | None:
    return r["app_cpu_s"] / r["completed"] * 1000 if r["completed"] else None


ROWS: list[Row] = [
    ("calls completed / dialled", lambda r: f"{r['completed']}/{r['dialled']}", False),
    ("calls failed / refused / unfinished",
     lambda r: f"{r['failed']}/{r['refused'] + r['connect_errors']}/{r['unfinished']}", False),
    ("peak concurrent calls", lambda r: r["peak_active"], False),
    ("event->command p50 (ms)", _pct("step", "p50"), True),
    ("event->command p90 (ms)", _pct("step", "p90"), True),
    ("**event->command p99 (ms)**", _pct("step", "p99"), True),
    ("event->command p99.9 (ms)", _pct("step", "p999"), True),
    ("event->command max (ms)", _pct("step", "max"), True),
    ("**setup p50 (ms)**: connect() -> `connect`", _pct("setup", "p50"), True),
    ("setup p99 (ms)", _pct("setup", "p99"), True),
    ("connect() -> first sendmsg p50 (ms)", _pct("first_step", "p50"), True),
    ("connect() -> first sendmsg p99 (ms)", _pct("first_step", "p99"), True),
    ("**app CPU per call (ms)**", _cpu_ms, True),
    ("app CPU busy (% of its core)", lambda r: r["app_cpu_s"] / r["wall_s"] * 100, True),
    ("app RSS idle (MB)", lambda r: r["rss_idle_kb"] / 1024, True),
    ("app RSS at peak concurrency (MB)", lambda r: r["rss_at_peak_kb"] / 1024, True),
    ("**app RSS per concurrent call (KB)**", _per_call_kb, True),
    ("generator CPU busy (% of its core)", lambda r: r["gen_cpu_s"] / r["wall_s"] * 100, False),
    ("app / generator waiting for a CPU (ms per s)", lambda r: _waits(r), False),
    ("machine busy with other work before the run (%)", lambda r: r["busy_before"] * 100, False),
]


def _pacer(args: argparse.Namespace) -> str:
    n = getattr(args, "gc_pacer", 0)
    return f"; experiment: young-generation GC every {n} calls (--gc-pacer)" if n else ""


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: list[dict], args: argparse.Namespace, machine: str, when: str) -> str:
    base = next((r for r in results if r["app"] == "esl-apps"), None)
    peers = [r for r in results if r is not base]
    head = [r["app"] for r in results]
    if base is not None:
        head += [f"{p['app']} / esl-apps" for p in peers]
    lines = [
        f"Run {when}. Machine: {machine}.",
        f"Load: {args.calls:,} calls per application at {args.rate:g} new calls/s, "
        f"{args.call_s:g} s of media per call (~{args.concurrency:,} concurrent), 6-step flow "
        "(answer, play, collect, play, set+bridge, hangup); load generator and application each pinned "
        f"to its own core, scheduling `{getattr(args, 'sched', 'normal')}`{_pacer(args)}.",
        "",
        "| metric | " + " | ".join(head) + " |",
        "|---|" + "---:|" * len(head),
    ]
    for label, get, ratio in ROWS:
        cells = [_fmt(get(r)) for r in results]
        if base is not None:
            for p in peers:
                ours, theirs = get(base), get(p)
                ok = ratio and isinstance(ours, int | float) and isinstance(theirs, int | float) and ours > 0
                cells.append(f"{theirs / ours:.1f}x" if ok else "")  # type: ignore[operator]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    by_app = sorted({k for r in results for k in r["by_app"]})
    lines += ["", "event->command p50 / p99 (ms) by the command that followed:", "",
              "| next command | " + " | ".join(r["app"] for r in results) + " |",
              "|---|" + "---:|" * len(results)]
    for key in by_app:
        cells = []
        for r in results:
            p = r["by_app"].get(key)
            cells.append(f"{_fmt(p['p50'])} / {_fmt(p['p99'])} (n={p['n']:,})" if p and p.get("n") else "-")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    if base is not None:
        step, setup = base["step"].get("p99"), base["setup"].get("p50")
        lines += ["", "Goals for esl-apps: event->command p99 < "
                  f"{GOAL_STEP_P99_MS:g} ms: **{_verdict(step, GOAL_STEP_P99_MS)}** ({_fmt(step)} ms); "
                  f"setup p50 < {GOAL_SETUP_P50_MS:g} ms: **{_verdict(setup, GOAL_SETUP_P50_MS)}** "
                  f"({_fmt(setup)} ms)."]
    for r in results:
        if r["unexpected"]:
            lines.append(f"{r['app']}: commands the generator did not expect: {r['unexpected']}")
    return "\n".join(lines) + "\n"


def _verdict(value: float | None, goal: float) -> str:
    return "met" if value is not None and value < goal else "NOT met"


def record(path: Path, text: str) -> None:
    """Replace the block between the markers (or append one) so the doc keeps the latest full run."""
    block = f"{BEGIN}\n{text}{END}"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in doc and END in doc:
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:start] + block + doc[end:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


GOAL_REDIS_ROUND_TRIPS = 6


def engine_table(r: dict, args: argparse.Namespace, machine: str, when: str) -> str:
    """Issue 4: the example main menu on serve's stack; Redis counted on the server."""
    done = r["completed"] or 1
    commands = sum(p["n"] for p in r["by_app"].values() if p.get("n")) / done
    redis = r.get("redis") or {"commands": {}, "reads": 0, "writes": 0}
    per_call = {name: n / done for name, n in redis["commands"].items()}
    trips = redis["reads"] / done
    rows = [
        ("calls completed / dialled", f"{r['completed']}/{r['dialled']}"),
        ("calls failed / refused / unfinished",
         f"{r['failed']}/{r['refused'] + r['connect_errors']}/{r['unfinished']}"),
        ("peak concurrent calls", r["peak_active"]),
        ("commands the app sent per call (after connect/myevents/linger/resume)", commands),
        ("event->command p50 / p90 (ms)", f"{_fmt(r['step'].get('p50'))} / {_fmt(r['step'].get('p90'))}"),
        ("**event->command p99 (ms)**", r["step"].get("p99")),
        ("event->command p99.9 / max (ms)", f"{_fmt(r['step'].get('p999'))} / {_fmt(r['step'].get('max'))}"),
        ("setup p50 / p99 (ms)", f"{_fmt(r['setup'].get('p50'))} / {_fmt(r['setup'].get('p99'))}"),
        ("app CPU per call (ms)", _cpu_ms(r)),
        ("app CPU busy (% of its core)", r["app_cpu_s"] / r["wall_s"] * 100),
        ("app RSS per concurrent call (KB)", _per_call_kb(r)),
        ("error log lines", r.get("log_errors", 0)),
        ("Redis commands per call", sum(per_call.values())),
        ("Redis commands per call, by command", ", ".join(f"{k} {v:.2f}" for k, v in per_call.items())),
        ("**Redis round trips per call** (server network reads)", trips),
    ]
    lines = [
        "",
        f"Issue 4, example main menu on `esl-apps serve`'s stack. Run {when}. Machine: {machine}.",
        f"Load: {args.calls:,} calls at {args.rate:g} new calls/s, {args.call_s:g} s of media per call "
        f"(~{args.concurrency:,} concurrent). Each call: DID +442071234567, office open, the caller keys 1 "
        "at the recording notice (opt_out policy: recorded), then 1 for sales; the group's members are "
        "bridged (answer after the ring time), goodbye, hangup. Records in a private redis-server; "
        f"scheduling `{getattr(args, 'sched', 'normal')}`{_pacer(args)}.",
        "",
        "| metric | engine |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {_fmt(value)} |" for label, value in rows]
    step = r["step"].get("p99")
    lines += ["", f"Goals: event->command p99 < {GOAL_STEP_P99_MS:g} ms: "
              f"**{_verdict(step, GOAL_STEP_P99_MS)}** ({_fmt(step)} ms); Redis round trips per call "
              f"<= {GOAL_REDIS_ROUND_TRIPS}: **{_verdict(trips, GOAL_REDIS_ROUND_TRIPS + 1e-9)}** "
              f"({trips:.2f})."]
    if r["unexpected"]:
        lines.append(f"engine: commands the generator did not expect: {r['unexpected']}")
    return "\n".join(lines) + "\n"
