"""Turn a :class:`Report` into what people read: a terminal table, CSV for spreadsheets, and one
self-contained HTML page (inline CSS and SVG charts, no network access) a manager can open.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping

from esl_apps.reports.kpi import Report, ScopeFigures

# (label, attribute, kind) in display order; kind picks the formatting.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Offered", "offered", "int"),
    ("Answered", "answered", "int"),
    ("Answer rate", "answer_rate", "pct"),
    ("Abandoned", "abandoned", "int"),
    ("Abandon rate", "abandon_rate", "pct"),
    ("ASA", "asa_s", "secs"),
    ("Service level", "service_level", "pct"),
    ("Avg response", "average_response_s", "secs"),
    ("AHT", "aht_s", "secs"),
    ("Overflow", "overflowed", "int"),
    ("Voicemail", "voicemail", "int"),
    ("Callback", "callback", "int"),
)


def _fmt(value: float | int | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "secs":
        return f"{value:.1f}s"
    return str(value)


def _rows(report: Report) -> list[tuple[str, str, ScopeFigures]]:
    rows: list[tuple[str, str, ScopeFigures]] = [("total", "all", report.total)]
    rows += [("group", name, figs) for name, figs in sorted(report.groups.items())]
    rows += [("agent", name, figs) for name, figs in sorted(report.agents.items())]
    return rows


def _code_label(labels: Mapping[str, str], code: str) -> str:
    label = labels.get(code)
    return f"{code} {label}" if label else code


def render_table(report: Report, code_labels: Mapping[str, str] | None = None) -> str:
    labels = code_labels or {}
    header = ["Scope", "Name"] + [c[0] for c in COLUMNS]
    body = [
        [scope, name] + [_fmt(getattr(figs, attr), kind) for _, attr, kind in COLUMNS]
        for scope, name, figs in _rows(report)
    ]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    opts = report.options
    lines.append("")
    lines.append(
        f"Service level: answered within {opts.service_level_s:g}s / (answered + abandoned), "
        f"target {opts.service_level_target:.0%}; abandons shorter than {opts.short_abandon_s:g}s excluded."
    )
    lines.append(
        f"Callbacks: requested {report.callbacks_requested}, completed {report.callbacks_completed}, "
        f"failed {report.callbacks_failed}. Default codes applied (agent keyed none): "
        f"{report.flagged_default_codes}."
    )
    for category, counts in sorted(report.dispositions.items()):
        parts = ", ".join(f"{_code_label(labels, code)}: {n}" for code, n in counts.most_common())
        lines.append(f"Dispositions [{category}]: {parts}")
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "name", *[attr for _, attr, _ in COLUMNS], "talk_s", "hold_s", "wrapup_s"])
    for scope, name, figs in _rows(report):
        values = [getattr(figs, attr) for _, attr, _ in COLUMNS]
        writer.writerow(
            [
                scope,
                name,
                *["" if v is None else round(v, 4) for v in values],
                round(figs.talk_s, 3),
                round(figs.hold_s, 3),
                round(figs.wrapup_s, 3),
            ]
        )
    for category, counts in sorted(report.dispositions.items()):
        for code, n in sorted(counts.items()):
            writer.writerow(["disposition", f"{category}:{code}", n])
    return out.getvalue()


def _bar_chart(
    title: str, items: list[tuple[str, float]], *, percent: bool = False, target: float | None = None
) -> str:
    """A horizontal SVG bar chart; plain SVG keeps the page self-contained and printable."""
    if not items:
        return ""
    bar_h, gap, label_w, chart_w = 18, 6, 160, 360
    peak = max([v for _, v in items] + ([target] if target else []) + [1e-9])
    height = len(items) * (bar_h + gap) + 30
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" '
        f'width="{label_w + chart_w + 80}" height="{height}">'
    ]
    for i, (label, value) in enumerate(items):
        y = 20 + i * (bar_h + gap)
        width = chart_w * value / peak
        text = f"{value * 100:.1f}%" if percent else f"{value:g}"
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar_h}" fill="#3b6ea5"/>')
        parts.append(f'<text x="{label_w + width + 4:.1f}" y="{y + 13}" font-size="12">{text}</text>')
    if target:
        x = label_w + chart_w * target / peak
        parts.append(
            f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height}" stroke="#c0392b" stroke-dasharray="4"/>'
        )
    parts.append("</svg>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts)


def render_html(
    report: Report, code_labels: Mapping[str, str] | None = None, title: str = "Call centre report"
) -> str:
    labels = code_labels or {}
    opts = report.options
    head = "".join(f"<th>{html.escape(label)}</th>" for label, _, _ in COLUMNS)
    rows = "".join(
        f"<tr><td>{html.escape(scope)}</td><td>{html.escape(name)}</td>"
        + "".join(f"<td>{_fmt(getattr(figs, attr), kind)}</td>" for _, attr, kind in COLUMNS)
        + "</tr>"
        for scope, name, figs in _rows(report)
    )
    charts = [
        _bar_chart(
            "Answer rate by group",
            [(g, f.answer_rate or 0.0) for g, f in sorted(report.groups.items())],
            percent=True,
            target=opts.answer_rate_target,
        ),
        _bar_chart(
            "Service level by group",
            [(g, f.service_level or 0.0) for g, f in sorted(report.groups.items())],
            percent=True,
            target=opts.service_level_target,
        ),
        _bar_chart(
            "Calls answered by agent", [(a, float(f.answered)) for a, f in sorted(report.agents.items())]
        ),
    ]
    for category, counts in sorted(report.dispositions.items()):
        charts.append(
            _bar_chart(
                f"Dispositions: {category}",
                [(_code_label(labels, code), float(n)) for code, n in counts.most_common()],
            )
        )
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(-n+2){text-align:left}"
        "th{background:#eef}"
    )
    notes = (
        f"<p>Service level = answered within {opts.service_level_s:g}s / (answered + abandoned); "
        f"target {opts.service_level_target:.0%}. "
        f"Abandons shorter than {opts.short_abandon_s:g}s are excluded. "
        f"Callbacks requested {report.callbacks_requested}, completed {report.callbacks_completed}, "
        f"failed {report.callbacks_failed}. Default codes applied: {report.flagged_default_codes}.</p>"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<table><tr><th>Scope</th><th>Name</th>{head}</tr>{rows}</table>{notes}"
        + "".join(charts)
        + "</body></html>\n"
    )
