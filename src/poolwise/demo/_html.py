"""The demo's report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Pure functions from the section records to text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from poolwise.demo._sections import Chart, Section
from poolwise.demo._text import t

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


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif;
       max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
.machine { color: #667; margin-top: 0; }
section { border-top: 1px solid #dde; padding: .6em 0 1.2em; }
h2 { font-size: 1.25em; margin: .6em 0 .2em; }
.claim { color: #556; font-style: italic; margin: .2em 0 .6em; }
.verdict { background: #f3f6fc; border-left: 4px solid #2f6fdf; padding: .5em .8em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #dde; padding: .25em .6em; text-align: left; }
th { background: #f6f7fa; }
svg.chart { display: block; margin: .4em 0; }
svg .label { font-size: 12px; fill: #333; }
svg .value { font-size: 11px; fill: #333; }
svg .unit { font-size: 12px; fill: #667; }
ul.guide li { margin: .3em 0; }
"""


def render(sections: Sequence[Section], *, lang: str, machine: dict[str, object]) -> str:
    """The whole report as one HTML page."""
    parts = [
        "<!doctype html>",
        f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8">',
        f"<title>{html.escape(t('title', lang))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(t('title', lang))}</h1>",
        f'<p class="machine">{html.escape(t("machine", lang, **machine))}</p>',
    ]
    for sec in sections:
        parts.append(f'<section id="{sec.key}"><h2>{html.escape(sec.title)}</h2>')
        if sec.claim:
            parts.append(f'<p class="claim">{html.escape(sec.claim)}</p>')
        if sec.key == "s10":
            items = "".join(f"<li>{html.escape(r[0])}</li>" for r in sec.rows)
            parts.append(f'<ul class="guide">{items}</ul></section>')
            continue
        if sec.chart is not None:
            parts.append(bar_chart(sec.chart, sec.title))
        parts.append(_table(sec.columns, sec.rows))
        parts.append(f'<p class="verdict">{html.escape(sec.verdict)}</p></section>')
    parts.append("</body></html>")
    return "\n".join(parts)
