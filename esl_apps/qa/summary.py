"""Turn a load-test result into the text QA reads and the JSON a CI job keeps."""

from __future__ import annotations

from typing import Any

from esl_apps.qa.loadtest import LoadtestResult, Progress
from esl_apps.qa.redis_view import STREAMS, deltas
from esl_apps.qa.sipp_stats import FAILURE_REASONS, Percentiles

RESPONSE_LABELS = {"answer": "answer time (INVITE -> 200 OK)", "bye": "hang-up (BYE -> 200 OK)"}


def progress_line(progress: Progress, total: int) -> str:
    return (f"[{progress.elapsed_s:6.1f}s] calls {progress.created}/{total}  ok {progress.successful}  "
            f"failed {progress.failed}  in progress {progress.current}  rate {progress.call_rate:.2f} cps")


def _percentiles(p: Percentiles) -> str:
    return (f"n={p.count} min {p.minimum:g} p50 {p.p50:g} p90 {p.p90:g} p95 {p.p95:g} p99 {p.p99:g} "
            f"max {p.maximum:g} ms")


def _achieved_rate(result: LoadtestResult) -> float:
    """Answered calls per second while calls were being placed; SIPp's own CallRate(C) divides by
    the whole run, tail included, so it understates the rate a short run reached."""
    if result.answer_rate is not None:
        return result.answer_rate
    return result.caller.call_rate if result.caller else 0.0


def render(result: LoadtestResult) -> str:
    plan = result.plan
    stats = result.caller
    lines = [f"esl-apps loadtest: scenario {plan.variant.name} -> {plan.target_host}:{plan.target_port} "
             f"(DID {plan.did}, {plan.calls} calls at {plan.rate:g}/s, at most {plan.limit} at once)"]
    if stats is None:
        lines.append("  no statistics from SIPp")
    else:
        still_open = f"  (still open at exit {stats.current})" if stats.current else ""
        lines.append(f"  calls        attempted {stats.created}  succeeded {stats.successful}  "
                     f"failed {stats.failed}{still_open}")
        for reason, count in sorted(stats.failed_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    failed: {count} x {FAILURE_REASONS.get(reason, reason)}")
        if result.error_codes:
            codes = ", ".join(f"{code} x{count}" for code, count in sorted(result.error_codes.items()))
            lines.append(f"    SIP responses that failed calls: {codes}")
        lines.append(f"  call rate    target {plan.rate:g} cps, achieved {_achieved_rate(result):.2f} cps "
                     f"over {stats.elapsed_s:.1f} s; peak concurrent calls {result.peak_concurrent}")
        if stats.mean_call_length_s:
            lines.append(f"  call length  mean {stats.mean_call_length_s:.2f} s")
        for name, percentiles in result.response_times.items():
            lines.append(f"  {RESPONSE_LABELS.get(name, name)}: {_percentiles(percentiles)}")
        keyed = stats.counters.get("keys_sent", 0)
        if keyed:
            lines.append(f"  DTMF         {keyed} key sequences sent by callers")
        if stats.retransmissions:
            lines.append(f"  retransmissions {stats.retransmissions} (a slow or overloaded far end)")
    if plan.registration is not None:
        reg = plan.registration
        lines.append(f"  registration {result.registered} of {len(reg.users)} agents registered with "
                     f"{reg.server} as {reg.users[0]}..{reg.users[-1]}@{reg.domain} (removed at the end)")
    for uas in result.uas:
        if uas.stats is None:
            lines.append(f"  {uas.role} on port {uas.port}: no statistics (exit code {uas.exit_code})")
            continue
        counters = uas.stats.counters
        rung = uas.stats.incoming - counters.get("out_of_dialog", 0)  # OPTIONS pings are not calls
        parts = [f"rung {rung}"] + [f"{name.replace('_', ' ')} {counters[name]}" for name in
                                    ("answered", "busy", "cancelled", "disposition_keyed", "out_of_dialog")
                                    if counters.get(name)]
        if uas.stats.failed:
            parts.append(f"failed {uas.stats.failed}")
        lines.append(f"  {uas.role} on port {uas.port}: " + ", ".join(parts))
    if plan.redis_url:
        lines.append(_redis_line(result))
    for problem in result.problems:
        lines.append(f"  problem: {problem}")
    lines.append(f"  result: {'all calls succeeded' if result.all_succeeded else 'FAILED'}; "
                 f"sipp exit code {result.caller_exit_code}; files in {plan.workdir}")
    return "\n".join(lines)


def _redis_line(result: LoadtestResult) -> str:
    after = result.redis_after
    if after is not None and after.error:
        return f"  application (Redis): unreachable ({after.error})"
    if result.redis_before is not None and result.redis_before.error:
        return f"  application (Redis): unreachable at start ({result.redis_before.error})"
    change = deltas(result.redis_before, after) or {}
    return "  application (Redis, this run): " + ", ".join(
        f"{STREAMS.get(name, name)} +{count}" for name, count in change.items())


def as_dict(result: LoadtestResult) -> dict[str, Any]:
    """A JSON-ready summary for CI (the numbers of ``render``, without the prose)."""
    plan = result.plan
    stats = result.caller
    data: dict[str, Any] = {
        "scenario": plan.variant.name, "target": f"{plan.target_host}:{plan.target_port}", "did": plan.did,
        "requested_calls": plan.calls, "target_rate": plan.rate, "limit": plan.limit,
        "all_succeeded": result.all_succeeded, "sipp_exit_code": result.caller_exit_code,
        "peak_concurrent": result.peak_concurrent, "problems": list(result.problems),
        "registered": result.registered,
        "workdir": str(plan.workdir),
    }
    if stats is not None:
        data.update({
            "attempted": stats.created, "succeeded": stats.successful, "failed": stats.failed,
            "failed_by_reason": dict(stats.failed_by_reason), "error_codes": dict(result.error_codes),
            "achieved_rate": round(_achieved_rate(result), 3), "elapsed_s": round(stats.elapsed_s, 3),
            "mean_call_length_s": stats.mean_call_length_s, "counters": dict(stats.counters),
        })
    data["response_times_ms"] = {
        name: {"count": p.count, "min": p.minimum, "p50": p.p50, "p90": p.p90, "p95": p.p95, "p99": p.p99,
               "max": p.maximum} for name, p in result.response_times.items()}
    data["uas"] = [{"role": u.role, "port": u.port, "exit_code": u.exit_code,
                    "incoming": u.stats.incoming if u.stats else None,
                    "counters": dict(u.stats.counters) if u.stats else {}} for u in result.uas]
    if plan.redis_url:
        data["redis"] = {"delta": deltas(result.redis_before, result.redis_after),
                         "error": (result.redis_after.error if result.redis_after else None)
                         or (result.redis_before.error if result.redis_before else None)}
    return data
