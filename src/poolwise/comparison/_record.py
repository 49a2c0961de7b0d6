"""The records ``compare`` returns: frozen, and rendered by pure functions (text, JSON, HTML)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from poolwise.measure._stats import Summary
from poolwise.report._html import page, table
from poolwise.report._svg import Chart, bar_chart


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
    ties: tuple[str, ...]  # labels not significantly slower than the best
    verdict: str
    code: str
    arg_bytes: float  # pickled bytes per task
    result_bytes: float
    serialize_per_task: float  # seconds to pickle and unpickle one argument and result
    machine: dict[str, Any] = field(default_factory=dict)

    def table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        cols: tuple[str, ...] = (
            "config",
            "median s",
            "min",
            "max",
            "spread",
            "speed-up",
            "efficiency",
            "CPU util",
            "start-up s",
            "peak MB",
            "errors",
        )
        rows: list[tuple[str, ...]] = []
        for m in self.measurements:
            rows.append(
                (
                    m.label,
                    f"{m.summary.median:.4f}",
                    f"{m.summary.minimum:.4f}",
                    f"{m.summary.maximum:.4f}",
                    f"{m.summary.spread:.1%}",
                    f"{m.speedup:.2f}x",
                    f"{m.efficiency:.2f}",
                    f"{m.cpu_utilisation:.0%}",
                    f"{m.startup:.3f}",
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
                f"({self.arg_bytes:.0f} B in, {self.result_bytes:.0f} B out per task pickled)",
                *lines,
                "",
                self.verdict,
                self.code,
            ]
        )

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

    def charts(self) -> list[tuple[str, Chart]]:
        out = []
        by_backend: dict[str, list[Measurement]] = {}
        for m in self.measurements:
            by_backend.setdefault(m.backend, []).append(m)
        labels = tuple(m.label for m in self.measurements)
        out.append(
            (
                "Speed-up over serial, per backend and worker count",
                Chart(
                    "x faster than serial",
                    labels,
                    (("speed-up", tuple(m.speedup for m in self.measurements)),),
                ),
            )
        )
        out.append(
            (
                "Where the time goes: start-up, pickling, the rest (seconds)",
                Chart(
                    "seconds",
                    labels,
                    (
                        ("start-up", tuple(m.startup for m in self.measurements)),
                        ("pickling", tuple(m.transfer_seconds for m in self.measurements)),
                        (
                            "compute and waiting",
                            tuple(
                                max(0.0, m.summary.median - m.transfer_seconds)
                                for m in self.measurements
                            ),
                        ),
                    ),
                ),
            )
        )
        out.append(
            (
                "Peak memory, parent and workers (MB)",
                Chart(
                    "MB",
                    labels,
                    (("peak RSS", tuple(m.peak_rss / 1e6 for m in self.measurements)),),
                ),
            )
        )
        return out

    def _html_body(self) -> list[str]:
        body = [
            f"<h1>compare {html.escape(self.function)}</h1>",
            f'<p class="machine">{self.items} items; '
            + html.escape(", ".join(f"{k}: {v}" for k, v in self.machine.items()))
            + "</p>",
            f'<p class="verdict">{html.escape(self.verdict)}</p>',
            f"<pre>{html.escape(self.code)}</pre>",
        ]
        for title, chart in self.charts():
            body.append(
                f"<section><h2>{html.escape(title)}</h2>{bar_chart(chart, title)}</section>"
            )
        cols, rows = self.table()
        body.append(table(cols, rows))
        return body

    def to_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML file (inline SVG charts, works offline)."""
        p = Path(path)
        p.write_text(page(f"compare {self.function}", self._html_body()), encoding="utf-8")
        return p

    def _repr_html_(self) -> str:
        """Jupyter shows the comparison as a table with its verdict."""
        return "\n".join(self._html_body())
