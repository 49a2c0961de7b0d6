"""The demo's report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Pure functions from the section records to text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from poolwise.demo._sections import Section
from poolwise.demo._text import t
from poolwise.report._html import page, table
from poolwise.report._svg import bar_chart


def render(sections: Sequence[Section], *, lang: str, machine: dict[str, object]) -> str:
    """The whole report as one HTML page."""
    parts = [
        f"<h1>{html.escape(t('title', lang))}</h1>",
        f'<p class="machine">{html.escape(t("machine", lang, **machine))}</p>',
    ]
    for sec in sections:
        parts.append(f'<section id="{sec.key}"><h2>{html.escape(sec.title)}</h2>')
        if sec.claim:
            parts.append(f'<p class="claim">{html.escape(sec.claim)}</p>')
        if sec.key == "s11":
            items = "".join(f"<li>{html.escape(r[0])}</li>" for r in sec.rows)
            parts.append(f'<ul class="guide">{items}</ul></section>')
            continue
        if sec.chart is not None:
            parts.append(bar_chart(sec.chart, sec.title))
        parts.append(table(sec.columns, sec.rows))
        parts.append(f'<p class="verdict">{html.escape(sec.verdict)}</p></section>')
    return page(t("title", lang), parts, lang=lang)
