"""Charts as inline SVG: small pure functions, no script, nothing fetched (reports work offline)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A bar chart: one group of bars per label, one bar per series."""

    unit: str
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    log: bool = False


COLORS = ("#2f6fdf", "#e4572e", "#29a36a", "#f2a541", "#7d5ba6")


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.1f}"
    return f"{v:.3g}"


def bar_chart(chart: Chart, title: str, width: int = 640) -> str:
    """Grouped horizontal bars: one group per label, one bar per series, values written."""
    n_series = len(chart.series)
    bar_h, gap, label_w, pad = 18, 10, 170, 8
    group_h = n_series * bar_h + gap
    height = 40 + len(chart.labels) * group_h + 28 * (n_series > 1)
    values = [v for _, vals in chart.series for v in vals]
    top = max([v for v in values if v > 0] or [1.0])
    floor = min([v for v in values if v > 0] or [1.0])

    def scale(v: float) -> float:
        span = width - label_w - 70
        if v <= 0:
            return 0.0
        if chart.log:
            lo, hi = math.log10(floor) - 0.3, math.log10(top)
            return span * (math.log10(v) - lo) / max(hi - lo, 1e-9)
        return span * v / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{pad}" y="18" class="unit">{html.escape(chart.unit)}</text>',
    ]
    y = 32
    for i, label in enumerate(chart.labels):
        parts.append(
            f'<text x="{label_w - 8}" y="{y + n_series * bar_h / 2 + 5:.0f}" '
            f'text-anchor="end" class="label">{html.escape(label)}</text>'
        )
        for k, (name, vals) in enumerate(chart.series):
            v = vals[i]
            w = scale(v)
            color = COLORS[k % len(COLORS)]
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" '
                f'fill="{color}"><title>{html.escape(name)}: {_fmt(v)}</title></rect>'
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 6}" class="value">'
                f"{_fmt(v)}</text>"
            )
            y += bar_h
        y += gap
    if n_series > 1:
        x = label_w
        for k, (name, _) in enumerate(chart.series):
            color = COLORS[k % len(COLORS)]
            parts.append(f'<rect x="{x}" y="{y + 4}" width="12" height="12" fill="{color}"/>')
            parts.append(
                f'<text x="{x + 16}" y="{y + 15}" class="label">{html.escape(name)}</text>'
            )
            x += 20 + 8 * len(name) + 20
    parts.append("</svg>")
    return "\n".join(parts)
