"""The records ``compare`` returns: frozen, and rendered by pure functions (text, JSON, HTML)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from poolwise.measure._stats import Summary
from poolwise.report._html import page, section, table
from poolwise.report._svg import Chart, bar_chart, line_chart, stacked_bar_chart


def seconds(v: float) -> str:
    """A duration with a unit that keeps three significant digits: 1.23 s, 45.6 ms, 789 µs."""
    if v >= 1:
        return f"{v:.2f} s"
    if v >= 1e-3:
        return f"{v * 1e3:.3g} ms"
    return f"{v * 1e6:.3g} µs"


@dataclass(frozen=True)
class Measurement:
    """One configuration, measured."""

    backend: str
    workers: int
    times: tuple[float, ...]  # steady-state seconds per run (pool already started)
    summary: Summary
    startup: float  # seconds to start the pool and have every worker ready
    speedup: float  # serial median / this median
    efficiency: float  # speedup / min(workers, usable CPUs)
    cpu_seconds: float  # user + system per run, parent and workers
    cpu_utilisation: float  # cpu_seconds / (median wall * usable CPUs)
    peak_rss: int  # bytes, parent and workers
    peak_pss: int | None
    transfer_seconds: float  # per run: pickling arguments and results (processes only)
    errors: int

    @property
    def label(self) -> str:
        return self.backend if self.backend == "serial" else f"{self.backend} x{self.workers}"


@dataclass(frozen=True)
class Comparison:
    """Every configuration measured on the user's function, and the verdict."""

    function: str
    items: int
    measurements: tuple[Measurement, ...]
    best: str  # label of the winner, or "" when too noisy to decide
    ties: tuple[str, ...]  # labels not significantly different from the best
    verdict: str
    code: str
    arg_bytes: float  # pickled bytes per task
    result_bytes: float
    serialize_per_task: float  # seconds to pickle and unpickle one argument and result
    machine: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # noisy samples, outliers, errors: reasons to doubt
    transport: str = "pipe"  # how processes move items and results: or "shared memory"
    shared_bytes: float = 0.0  # bytes per task (argument and result) in shared memory

    def table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        cols: tuple[str, ...] = (
            "config",
            "median",
            "min",
            "max",
            "spread",
            "runs",
            "speed-up",
            "efficiency",
            "CPU util",
            "start-up",
            "peak MB",
            "errors",
        )
        rows: list[tuple[str, ...]] = []
        for m in self.measurements:
            rows.append(
                (
                    m.label,
                    seconds(m.summary.median),
                    seconds(m.summary.minimum),
                    seconds(m.summary.maximum),
                    f"{m.summary.spread:.1%}",
                    str(m.summary.n),
                    f"{m.speedup:.2f}x",
                    f"{m.efficiency:.2f}",
                    f"{m.cpu_utilisation:.0%}",
                    seconds(m.startup),
                    f"{m.peak_rss / 1e6:.0f}",
                    str(m.errors),
                )
            )
        return cols, rows

    def __str__(self) -> str:
        cols, body = self.table()
        rows = [cols, *body]
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(
            [
                f"compare {self.function} over {self.items} items "
                f"({self.arg_bytes:.0f} B in, {self.result_bytes:.0f} B out per task pickled"
                f"{self._by_shared_memory()})",
                *lines,
                "",
                *(f"warning: {w}" for w in self.warnings),
                self.verdict,
                self.code,
            ]
        )

    def _by_shared_memory(self) -> str:
        if self.transport != "shared memory":
            return ""
        return f"; {self.shared_bytes:.0f} B of them in shared memory, the rest by the pipe"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for m, md in zip(self.measurements, d["measurements"]):
            md["summary"]["spread"] = m.summary.spread
        return d

    def to_json(self, path: str | Path | None = None) -> str:
        """The whole record, with the machine's facts, as JSON (written to ``path`` if given)."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def charts(self) -> list[tuple[str, str]]:
        """(heading, inline SVG) for each chart: speed-up against workers per backend, where
        one cold run's time goes, and peak memory."""
        ms = self.measurements
        labels = [m.label for m in ms]
        parallel: dict[str, list[tuple[float, float]]] = {}
        for m in ms:
            if m.backend != "serial":
                parallel.setdefault(m.backend, []).append((float(m.workers), m.speedup))
        speedup = "Speed-up over serial against the number of workers"
        where = "Where the time of one cold run goes: start-up, pickling, the rest (seconds)"
        memory = "Peak memory, parent and workers summed (MB)"
        memory_series: list[tuple[str, tuple[float, ...]]] = [
            ("peak RSS", tuple(m.peak_rss / 1e6 for m in ms))
        ]
        if all(m.peak_pss is not None for m in ms):
            memory_series.append(("peak PSS", tuple((m.peak_pss or 0) / 1e6 for m in ms)))
        return [
            (
                speedup,
                line_chart(
                    speedup,
                    sorted(parallel.items()),
                    x_label="workers",
                    y_label="x faster than serial",
                    log_x=True,
                    reference=(1.0, "serial"),
                ),
            ),
            (
                where,
                stacked_bar_chart(
                    where,
                    labels,
                    [
                        ("start-up", [m.startup for m in ms]),
                        ("pickling", [m.transfer_seconds for m in ms]),
                        (
                            "compute and waiting",
                            [max(0.0, m.summary.median - m.transfer_seconds) for m in ms],
                        ),
                    ],
                    unit="seconds",
                ),
            ),
            (memory, bar_chart(Chart("MB", tuple(labels), tuple(memory_series)), memory)),
        ]

    def _html_body(self) -> list[str]:
        body = [
            f"<h1>compare {html.escape(self.function)}</h1>",
            f'<p class="machine">{self.items} items; '
            + html.escape(", ".join(f"{k}: {v}" for k, v in self.machine.items()))
            + "</p>",
            f'<p class="verdict">{html.escape(self.verdict)}</p>',
            f"<pre>{html.escape(self.code)}</pre>",
        ]
        if self.warnings:
            items = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
            body.append(f'<ul class="warnings">{items}</ul>')
        body += [section(heading, svg) for heading, svg in self.charts()]
        cols, rows = self.table()
        body.append(section("Every configuration", table(cols, rows, cls="numbers")))
        return body

    def to_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML file (inline SVG charts, works offline)."""
        p = Path(path)
        p.write_text(page(f"compare {self.function}", self._html_body()), encoding="utf-8")
        return p

    def _repr_html_(self) -> str:
        """Jupyter shows the comparison as a table with its verdict."""
        return "\n".join(self._html_body())
