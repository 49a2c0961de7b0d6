"""The demo runs (quick), its report renders in a real browser, its numbers hold together."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poolwise.cli import main
from poolwise.demo._html import render
from poolwise.demo._sections import Section
from poolwise.report._svg import Chart, bar_chart
from tests.browser import render as render_in_chromium

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo")
    html, js = out / "report.html", out / "numbers.json"
    assert main(["demo", "--quick", "--html", str(html), "--json", str(js)]) == 0
    return html, js


def test_demo_measures_every_section(quick_run: tuple[Path, Path]) -> None:
    _, js = quick_run
    data = json.loads(js.read_text())
    keys = [s["key"] for s in data["sections"]]
    assert keys == [f"s{i}" for i in range(1, 11)]
    by = {s["key"]: s for s in data["sections"]}
    for s in data["sections"][:-1]:
        assert s["verdict"] and s["rows"], s["key"]
    # facts that hold on any machine, not just on a quiet one
    assert by["s7"]["numbers"]["failed"] == 1 and by["s7"]["numbers"]["ok"] == 9
    assert by["s7"]["numbers"]["thread_survived"] is False
    assert by["s8"]["numbers"]["parent"] == 0
    assert by["s5"]["numbers"]["per_item_ms"]["process"][-1] > 0
    assert by["s3"]["numbers"]["best_thread"] > 2  # waiting overlaps on threads


def test_report_is_self_contained(quick_run: tuple[Path, Path]) -> None:
    html, _ = quick_run
    text = html.read_text()
    assert text.count("<svg") >= 7
    assert "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_korean_report(tmp_path: Path) -> None:
    sec = Section(
        "s2",
        "2. 순수 파이썬 CPU 작업",
        "주장",
        ("a",),
        (("1",),),
        "판정",
        Chart("x", ("serial",), (("s", (1.0,)),)),
    )
    page = render(
        [sec], lang="ko", machine={"cpus": 2, "python": "3.11", "method": "fork", "date": "today"}
    )
    assert 'lang="ko"' in page and "사용 가능한 CPU 2개" in page


def test_bad_lang_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--lang", "fr", "--html", ""]) == 2
    assert "unknown --lang 'fr'" in capsys.readouterr().err


def test_log_chart_handles_wide_ranges() -> None:
    svg = bar_chart(
        Chart("ms", ("1 kB", "10 MB"), (("t", (0.01, 0.02)), ("p", (0.1, 50.0))), log=True), "x"
    )
    assert svg.count("<rect") == 4 + 2  # four bars, two legend swatches


@pytest.mark.browser
def test_report_renders_in_headless_chromium(quick_run: tuple[Path, Path], tmp_path: Path) -> None:
    html, _ = quick_run
    dom, shot, errors = render_in_chromium(html, tmp_path, height=3000)
    assert dom.count("<svg") >= 7 and dom.count("<rect") >= 20
    assert shot.exists() and shot.stat().st_size > 10_000
    assert not errors, errors


def test_python_dash_m_poolwise_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "poolwise", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("poolwise ")


def test_no_command_prints_help_and_exits_2() -> None:
    assert main([]) == 2
