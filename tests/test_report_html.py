"""Reports: the SVG chart helpers, the page shell, and a comparison's HTML (made-up numbers),
checked for structure and opened in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from poolwise.comparison._record import Comparison, Measurement
from poolwise.report._html import page, section, table
from poolwise.report._svg import line_chart, nice_ticks, stacked_bar_chart
from tests.browser import render as render_in_chromium
from tests.test_verdict import m


def comparison(function: str = "work") -> Comparison:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        *(m("thread", w, [1.0, 1.02, 0.98]) for w in (1, 2, 4, 8)),
        *(
            m("process", w, [t, t * 1.01, t * 0.99], startup=0.03 * w)
            for w, t in ((1, 1.02), (2, 0.52), (4, 0.55))
        ),
    ]
    ms = [
        Measurement(**{**x.__dict__, "peak_rss": 30_000_000 * x.workers, "transfer_seconds": 0.01})
        for x in ms
    ]
    return Comparison(
        function=function,
        items=100,
        measurements=tuple(ms),
        best="process x2",
        ties=(),
        verdict="process x2 is 1.9x faster than serial <really>",
        code=f'poolwise.map({function}, items, backend="process", workers=2)',
        arg_bytes=5.0,
        result_bytes=20.0,
        serialize_per_task=1e-5,
        machine={"usable_cpus": 2, "python": "3.11.7", "gil_enabled": True},
        warnings=("thread x8: 1 of 3 timings are outliers",),
    )


def test_nice_ticks() -> None:
    assert nice_ticks(1.9) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert nice_ticks(7.3) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert nice_ticks(0.042) == [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
    assert nice_ticks(0.0) == [0.0, 1.0]


def test_line_chart_has_a_line_per_series_axes_legend_and_reference() -> None:
    svg = line_chart(
        "Speed-up <x>",
        [("thread", [(1, 1.0), (2, 1.0), (4, 0.9)]), ("process", [(1, 1.0), (2, 1.9)])],
        x_label="workers",
        y_label="x faster",
        log_x=True,
        reference=(1.0, "serial"),
        show_title=True,
    )
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 5
    assert "Speed-up &lt;x&gt;" in svg and "<x>" not in svg
    assert 'class="legend"' in svg and ">thread<" in svg and ">process<" in svg
    assert 'stroke-dasharray="5 4"' in svg and ">serial<" in svg
    assert ">workers<" in svg and ">x faster<" in svg


def test_a_single_point_is_drawn_without_a_line() -> None:
    svg = line_chart("t", [("process", [(2, 1.9)])], x_label="w", y_label="x")
    assert "<polyline" not in svg and svg.count("<circle") == 1


def test_stacked_bars_split_each_bar_and_write_the_total() -> None:
    svg = stacked_bar_chart(
        "Where the time goes",
        ["serial", "process x2"],
        [("start-up", [0.0, 0.04]), ("pickling", [0.0, 0.01]), ("compute", [1.0, 0.5])],
        unit="seconds",
    )
    bars = re.findall(r'<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"', svg)
    assert len(bars) == 6 + 3  # two bars of three parts, three legend swatches
    row = [b for b in bars if b[1] == bars[3][1]][:3]  # the process bar's parts, in order
    assert float(row[1][0]) == float(row[0][0]) + float(
        row[0][2]
    )  # each starts where the last ends
    assert ">0.55<" in svg and ">1.0<" in svg  # totals


def test_page_escapes_and_sections() -> None:
    html = page("a <b>", [section("x & y", table(["c<"], [["<td>"]]))])
    assert html.startswith("<!doctype html>") and "<title>a &lt;b&gt;</title>" in html
    assert "<h2>x &amp; y</h2>" in html and "&lt;td&gt;" in html and "<style>" in html


def test_comparison_html_is_self_contained(tmp_path: Path) -> None:
    c = comparison("work<T>")
    text = c.to_html(tmp_path / "c.html").read_text(encoding="utf-8")
    assert text.count("<svg") == 3 and text.count("<polyline") == 2
    assert "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in text and "work&lt;T&gt;" in text and "<really>" not in text
    assert "outliers" in text  # the warnings are shown
    assert '<table class="numbers">' in c._repr_html_() and "<svg" in c._repr_html_()


def test_comparison_text_and_json() -> None:
    c = comparison()
    text = str(c)
    assert text.splitlines()[0].startswith("compare work over 100 items")
    assert "process x2" in text and "1.00 s" in text and "520 ms" in text
    assert text.rstrip().endswith('poolwise.map(work, items, backend="process", workers=2)')
    assert '"usable_cpus": 2' in c.to_json()


def test_memory_chart_shows_pss_when_every_configuration_has_it() -> None:
    c = comparison()
    with_pss = Comparison(
        **{
            **c.__dict__,
            "measurements": tuple(
                Measurement(**{**x.__dict__, "peak_pss": 10_000_000}) for x in c.measurements
            ),
        }
    )
    assert "peak PSS" not in c.charts()[2][1] and "peak PSS" in with_pss.charts()[2][1]


@pytest.mark.browser
def test_comparison_html_renders_in_chromium(tmp_path: Path) -> None:
    dom, shot, errors = render_in_chromium(comparison().to_html(tmp_path / "c.html"), tmp_path)
    assert dom.count("<svg") == 3 and dom.count("<polyline") == 2 and dom.count("<rect") >= 20
    assert shot.exists() and shot.stat().st_size > 5_000
    assert not errors, errors
