"""Charts as inline SVG: small pure functions, no script, nothing fetched (reports work offline)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
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


def _tick(v: float) -> str:
    """An axis label: whole numbers without a decimal point (worker counts, round steps)."""
    return f"{v:,.0f}" if float(v).is_integer() else _fmt(v)


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


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


def _open(width: int, height: int, title: str, show_title: bool) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{html.escape(title)}</title>",
    ]
    if show_title:
        parts.append(
            f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" class="title">'
            f"{html.escape(title)}</text>"
        )
    return parts


def _legend(names: Sequence[str], x: float, y: float, *, dash: bool = False) -> list[str]:
    """A row of colour swatches with names, starting at (x, y)."""
    parts = ['<g class="legend">']
    for k, name in enumerate(names):
        color = COLORS[k % len(COLORS)]
        if dash:
            parts.append(
                f'<line x1="{x:.0f}" y1="{y + 6:.0f}" x2="{x + 14:.0f}" y2="{y + 6:.0f}" '
                f'stroke="{color}" stroke-width="3"/>'
            )
        else:
            parts.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="12" height="12" fill="{color}"/>')
        parts.append(
            f'<text x="{x + 18:.0f}" y="{y + 11:.0f}" class="label">{html.escape(name)}</text>'
        )
        x += 34 + 7 * len(name)
    parts.append("</g>")
    return parts


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    reference: tuple[float, str] | None = None,
    show_title: bool = False,
    width: int = 640,
    height: int = 340,
) -> str:
    """Lines through (x, y) points, one per series, with axes, ticks, a legend and the values.

    ``log_x`` spaces x by powers of two (worker counts 1, 2, 4, ...); ``reference`` draws a
    dashed horizontal line at a y value with a label (speed-up 1 = "serial").
    """
    left, right, top_pad = 56, 40, 34 if show_title else 16
    bottom = 58
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    xs = sorted({x for _, pts in series for x, _ in pts}) or [1.0]
    ys = [y for _, pts in series for _, y in pts]
    if reference is not None:
        ys.append(reference[0])
    yticks = nice_ticks(max(ys or [1.0]))
    y_top = yticks[-1] or 1.0

    def fx(x: float) -> float:
        lo, hi = (math.log2(xs[0]), math.log2(xs[-1])) if log_x else (xs[0], xs[-1])
        v = math.log2(x) if log_x else x
        return left + (plot_w * (v - lo) / (hi - lo) if hi > lo else plot_w / 2)

    def fy(y: float) -> float:
        return top_pad + plot_h * (1 - y / y_top)

    parts = _open(width, height, title, show_title)
    x0, y0 = left, top_pad + plot_h
    parts.append('<g class="axes" stroke="#99a" stroke-width="1">')
    parts.append(f'<line x1="{x0}" y1="{top_pad}" x2="{x0}" y2="{y0}"/>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + plot_w}" y2="{y0}"/>')
    parts.append("</g>")
    for t in yticks:
        y = fy(t)
        parts.append(
            f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + plot_w}" y2="{y:.1f}" stroke="#e4e6ee"/>'
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_tick(t)}</text>'
        )
    for x in xs:
        parts.append(
            f'<text x="{fx(x):.1f}" y="{y0 + 16}" text-anchor="middle" class="tick">'
            f"{_tick(x)}</text>"
        )
    parts.append(
        f'<text x="{x0 + plot_w / 2:.0f}" y="{y0 + 34}" text-anchor="middle" class="unit">'
        f"{html.escape(x_label)}</text>"
    )
    parts.append(
        f'<text x="14" y="{top_pad + plot_h / 2:.0f}" text-anchor="middle" class="unit" '
        f'transform="rotate(-90 14 {top_pad + plot_h / 2:.0f})">{html.escape(y_label)}</text>'
    )
    if reference is not None:
        ry = fy(reference[0])
        parts.append(
            f'<line x1="{x0}" y1="{ry:.1f}" x2="{x0 + plot_w}" y2="{ry:.1f}" stroke="#667" '
            f'stroke-dasharray="5 4"/><text x="{x0 + plot_w - 4}" y="{ry + 15:.1f}" '
            f'text-anchor="end" class="unit">{html.escape(reference[1])}</text>'
        )
    for k, (name, pts) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        ordered = sorted(pts)
        if len(ordered) > 1:
            path = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in ordered)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>'
            )
        for x, y in ordered:
            parts.append(
                f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="4" fill="{color}">'
                f"<title>{html.escape(name)} at {_fmt(x)}: {_fmt(y)}</title></circle>"
                f'<text x="{fx(x) + 6:.1f}" y="{fy(y) - 7:.1f}" class="value">{_fmt(y)}</text>'
            )
    parts += _legend([name for name, _ in series], x0, height - 18, dash=True)
    parts.append("</svg>")
    return "\n".join(parts)


def stacked_bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    unit: str,
    show_title: bool = False,
    width: int = 640,
) -> str:
    """Horizontal bars, one per label, each split into the series' parts; the total is written
    at the end of the bar, each part's value in its tooltip."""
    label_w, bar_h, gap, pad = 170, 20, 8, 8
    head = 34 if show_title else 12
    height = head + 22 + len(labels) * (bar_h + gap) + 34
    totals = [sum(vals[i] for _, vals in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals or [1.0]))
    span = width - label_w - 60
    top = ticks[-1] or 1.0

    def scale(v: float) -> float:
        return span * max(v, 0.0) / top

    parts = _open(width, height, title, show_title)
    parts.append(f'<text x="{pad}" y="{head + 6}" class="unit">{html.escape(unit)}</text>')
    y_axis = head + 14
    plot_bottom = y_axis + len(labels) * (bar_h + gap)
    for t in ticks:
        x = label_w + scale(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{plot_bottom}" stroke="#e4e6ee"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle" class="tick">'
            f"{_tick(t)}</text>"
        )
    y = y_axis + gap / 2
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h / 2 + 4:.0f}" text-anchor="end" '
            f'class="label">{html.escape(label)}</text>'
        )
        x = float(label_w)
        for k, (name, vals) in enumerate(series):
            w = scale(vals[i])
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.0f}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{COLORS[k % len(COLORS)]}"><title>{html.escape(label)}, '
                f"{html.escape(name)}: {_fmt(vals[i])}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + bar_h / 2 + 4:.0f}" class="value">'
            f"{_fmt(totals[i])}</text>"
        )
        y += bar_h + gap
    parts.append(
        f'<line x1="{label_w}" y1="{y_axis}" x2="{label_w}" y2="{plot_bottom}" stroke="#99a"/>'
    )
    parts += _legend([name for name, _ in series], label_w, height - 16)
    parts.append("</svg>")
    return "\n".join(parts)
