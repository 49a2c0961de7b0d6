"""The demo runs (quick), its report renders in a real browser, its numbers hold together."""

from __future__ import annotations

import json
import re
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
    assert keys == [f"s{i}" for i in range(1, 12)]
    by = {s["key"]: s for s in data["sections"]}
    for s in data["sections"][:-1]:
        # (interpreters: numbers only where this Python has them)
        assert s["verdict"] and (s["rows"] or not s["numbers"].get("available", True)), s["key"]
    # facts that hold on any machine, not just on a quiet one
    assert by["s7"]["numbers"]["failed"] == 1 and by["s7"]["numbers"]["ok"] == 9
    assert by["s7"]["numbers"]["thread_survived"] is False
    assert by["s8"]["numbers"]["parent"] == 0
    # the checks' verdicts: both races found, the locked version passed, the inversion found
    assert by["s8"]["numbers"]["checks"] == {"plain": "found", "dict": "found", "locked": "missed"}
    assert [row[2] for row in by["s8"]["rows"][:3]] == ["found", "found", "nothing found"]
    assert "check_races found both bugs and passed the locked version" in by["s8"]["verdict"]
    assert by["s9"]["numbers"]["status"] == "found" and by["s9"]["rows"][0][1] == "found"
    assert by["s9"]["verdict"].startswith("lock_order found the A->B / B->A inversion")
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


# Words a Korean report may keep in Latin letters: units, names of code and of Python's own.
_LATIN = "ms MB kB GB s USS GIL CPU I O A B C x Python CPython hashlib fork spawn forkserver full"
_CODE = (
    "check_races lock_order poolwise map fn items counter value get d k join backend interpreter "
    "concurrent interpreters numpy"
)
LATIN_OK = set(_LATIN.split()) | set(_CODE.split())


def _english_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z_]+", text) if w not in LATIN_OK]


@pytest.fixture
def tiny_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """--quick runs the tests' tiny scale: every section, little work."""
    from poolwise.demo import _sections

    named = _sections.Scale.named
    monkeypatch.setattr(_sections.Scale, "named", staticmethod(lambda name: named("tiny")))


def test_the_whole_demo_in_korean_leaves_no_english_label(
    tiny_scale: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, js = tmp_path / "report.html", tmp_path / "numbers.json"
    argv = ["demo", "--quick", "--lang", "ko", "--html", str(html), "--json", str(js)]
    assert main(argv) == 0
    out = capsys.readouterr().out.replace(str(html), "").replace(str(js), "")
    data = json.loads(js.read_text())
    labels: list[str] = []
    for sec in data["sections"]:
        labels += [sec["title"], sec["claim"], sec["verdict"], *sec["columns"]]
        labels += [cell for row in sec["rows"] for cell in row]
        if sec["chart"]:
            chart = sec["chart"]
            labels += [chart["unit"], *chart["labels"], *(name for name, _ in chart["series"])]
    assert len(data["sections"]) == 11 and len(labels) > 150
    english = {label: _english_words(label) for label in labels if _english_words(label)}
    assert not english, english
    assert not _english_words(out.replace(str(tmp_path), "")), out
    assert 'lang="ko"' in html.read_text()


def test_a_check_that_raises_shows_as_failed_with_its_error(
    tiny_scale: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poolwise.checks import _races
    from poolwise.demo import _sections

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'Counter' object has no attribute 'value'")

    monkeypatch.setattr(_races, "check_races", broken)
    sec = _sections.races(_sections.Scale.named("tiny"), "en")
    cells = [row[2] for row in sec.rows[:3]]
    assert cells == ["failed: AttributeError: 'Counter' object has no attribute 'value'"] * 3
    assert "check_races failed on counter += 1: AttributeError" in sec.verdict
    assert "not measured" not in sec.verdict
