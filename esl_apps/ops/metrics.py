"""Prometheus metrics without a dependency: counters, gauges, histograms and the text format.

The exposition format (version 0.0.4) is small and stable, and the application needs a handful of
metrics, so it is written here by hand rather than pulling in a client library. Updates are plain
attribute arithmetic on the event loop thread (no locks: serve is single-threaded asyncio); values
that live elsewhere (active calls, agent states in Redis) are read at scrape time by collectors.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence

__all__ = [
    "CONTENT_TYPE",
    "Counter",
    "Gauge",
    "Histogram",
    "Registry",
    "format_value",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LabelValues = tuple[str, ...]


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"invalid label name {label!r}")
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """Only goes up (a restart resets it; Prometheus' rate() handles that)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}
        if not self.labelnames:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def set_total(self, value: float, **labels: str) -> None:
        """For a count kept elsewhere (e.g. the server's refused calls), copied at scrape time."""
        self._values[self._key(labels)] = float(value)

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.labelnames, key)} {format_value(v)}"
            for key, v in sorted(self._values.items())
        ]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: str) -> None:
        self._values[self._key(labels)] = float(value)

    def replace(self, values: Iterable[tuple[dict[str, str], float]]) -> None:
        """Set every series at once; series not given disappear (e.g. a queue removed from the config)."""
        self._values = {self._key(labels): float(v) for labels, v in values}

    def clear(self) -> None:
        self._values = {}

    def value(self, **labels: str) -> float | None:
        return self._values.get(self._key(labels))

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.labelnames, key)} {format_value(v)}"
            for key, v in sorted(self._values.items())
        ]


class Histogram(_Metric):
    """Cumulative buckets, ``_sum`` and ``_count``; no labels (one distribution per histogram)."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        super().__init__(name, help_text)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError("histogram buckets must be distinct finite numbers")
        self.bounds = tuple(bounds)
        self._counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le = "less or equal").
        self._counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self) -> list[str]:
        out: list[str] = []
        running = 0
        for bound, count in zip((*self.bounds, math.inf), self._counts, strict=True):
            running += count
            out.append(f'{self.name}_bucket{{le="{format_value(bound)}"}} {running}')
        out.append(f"{self.name}_sum {format_value(self.sum)}")
        out.append(f"{self.name}_count {self.count}")
        return out


Collector = Callable[[], Awaitable[None]]


class Registry:
    """The metrics of one process, in registration order; ``collectors`` refresh values that live
    elsewhere just before each scrape."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []
        self._collectors: list[Collector] = []

    def register(self, metric: _Metric) -> _Metric:
        if any(m.name == metric.name for m in self._metrics):
            raise ValueError(f"metric {metric.name!r} registered twice")
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labelnames)
        self.register(metric)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        metric = Gauge(name, help_text, labelnames)
        self.register(metric)
        return metric

    def histogram(self, name: str, help_text: str, buckets: Sequence[float]) -> Histogram:
        metric = Histogram(name, help_text, buckets)
        self.register(metric)
        return metric

    def add_collector(self, collector: Collector) -> None:
        self._collectors.append(collector)

    async def collect(self) -> None:
        for collector in self._collectors:
            await collector()

    def exposition(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.header()
            lines += metric.lines()
        return "\n".join(lines) + "\n"
