"""The shell of a self-contained HTML report: inline CSS, escaped text, tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

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
table.numbers td { white-space: nowrap; }
.warnings { color: #8a4b00; }
th { background: #f6f7fa; }
svg.chart { display: block; margin: .4em 0; }
svg .label { font-size: 12px; fill: #333; }
svg .value { font-size: 11px; fill: #333; }
svg .unit { font-size: 12px; fill: #667; }
svg .tick { font-size: 11px; fill: #667; }
svg .title { font-size: 14px; font-weight: 600; fill: #1d2330; }
ul.guide li { margin: .3em 0; }
"""


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str | None = None) -> str:
    """A table of escaped text; ``cls="numbers"`` keeps each cell on one line."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    attr = f' class="{html.escape(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(heading: str, content: str) -> str:
    """A titled section: the heading is escaped, ``content`` is HTML already."""
    return f"<section><h2>{html.escape(heading)}</h2>{content}</section>"


def page(title: str, body: Sequence[str], *, lang: str = "en") -> str:
    """A whole page with inline CSS: ``body`` is HTML already (escape text before passing)."""
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}</style></head><body>",
            *body,
            "</body></html>",
        ]
    )
