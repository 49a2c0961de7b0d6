"""`poolwise compare` and `poolwise run`: errors are one line with status 2; run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolwise.cli import main
from poolwise.cli._compare import _done_indices
from tests.crashers import CrashOn

ROOT = Path(__file__).parent.parent
CRASH_ON_3 = CrashOn(3)  # kills its worker on item 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "no_such_mod:f", "--range", "3"], "cannot import module 'no_such_mod'"),
        (["compare", "tests.helpers:missing", "--range", "3"], "has no attribute 'missing'"),
        (["compare", "tests.helpers:double", "--items", "tests.helpers:EMPTY"], ""),
        (
            ["run", "tests.helpers:double", "--items-file", "/nonexistent.jsonl", "--output", "o"],
            "cannot read items file",
        ),
    ],
)
def test_errors_are_one_line_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    ("content", "message"),
    [("\n", "the input is empty"), ('1\n{"a": \n', "data.jsonl:2: not a JSON line")],
)
def test_items_file_errors(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "data.jsonl"
    f.write_text(content)
    assert main(["compare", "tests.helpers:double", "--items-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_compare_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js = tmp_path / "c.json"
    assert (
        main(
            [
                "compare",
                "tests.helpers:double",
                "--range",
                "200",
                "--backends",
                "serial",
                "thread",
                "--workers",
                "2",
                "--repeat",
                "1",
                "--json",
                str(js),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "compare double over 200 items" in out and "poolwise.map(double" in out
    assert json.loads(js.read_text())["items"] == 200


def test_run_writes_one_line_per_item(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(str(i) for i in range(50)) + "\n")
    assert (
        main(
            [
                "run",
                "tests.helpers:double",
                "--items-file",
                str(src),
                "--output",
                str(out),
                "--backend",
                "thread",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((r["index"], r["result"]) for r in lines) == [(i, 2 * i) for i in range(50)]


def test_run_refuses_to_overwrite_without_resume(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("1\n")
    out.write_text('{"index": 0, "result": 2}\n')
    assert (
        main(["run", "tests.helpers:double", "--items-file", str(src), "--output", str(out)]) == 2
    )


def test_run_killed_midway_then_resumed_has_every_item_once(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    n = 200
    src.write_text("\n".join(json.dumps(0.01) for _ in range(n)) + "\n")
    cmd = [
        sys.executable,
        "-m",
        "poolwise",
        "run",
        "tests.helpers:sleep_and_return",
        "--items-file",
        str(src),
        "--output",
        str(out),
        "--backend",
        "thread",
        "--workers",
        "4",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not out.exists() or out.read_text().count("\n") < 20:  # a gate: 20 lines written
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with out.open("a") as fh:
        fh.write('{"index": 12')  # what a kill in mid-write leaves
    written_before = out.read_text().count("\n")
    assert written_before < n
    done = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    indices = [json.loads(x)["index"] for x in out.read_text().splitlines()]
    assert sorted(indices) == list(range(n))  # every item, exactly once


def test_a_crashed_worker_is_an_error_line_for_its_item(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(str(i) for i in range(8)) + "\n")
    argv = ["run", "tests.test_cli_compare:CRASH_ON_3", "--items-file", str(src)]
    assert main([*argv, "--output", str(out), "--backend", "process", "--workers", "2"]) == 0
    lines = {r["index"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert sorted(lines) == list(range(8))
    assert lines[3]["error"].startswith("WorkerCrashed") and lines[4]["result"] == 4


def test_a_record_without_its_newline_is_cut_and_run_again(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = '{"index": 0, "result": 0}\n{"index": 1, "result": 2}\n'
    out.write_text(whole + '{"index": 2, "result": 4}')  # killed before the newline
    assert _done_indices(out) == {0, 1}
    assert out.read_text() == whole


def test_a_bad_line_in_the_items_file_is_an_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("1\n2\nnot json\n")
    argv = ["run", "tests.helpers:double", "--items-file", str(src), "--output", str(out)]
    assert main(argv) == 2
    assert "in.jsonl:3: not a JSON line" in capsys.readouterr().err
    assert not out.exists()
