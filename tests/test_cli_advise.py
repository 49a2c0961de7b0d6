from __future__ import annotations

import json
from pathlib import Path

import pytest

from poolwise.cli import main


def test_advise_prints_the_advice_and_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "tests.helpers:double", "--range", "50000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("use serial") and "double, items" in out


def test_advise_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "items.jsonl"
    f.write_text("\n".join(str(i) for i in range(100)) + "\n")
    assert main(["advise", "tests.helpers:double", "--items-file", str(f), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] in {"serial", "thread", "process"} and data["reasons"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["advise", "no_such_module:fn", "--range", "3"], "cannot import module 'no_such_module'"),
        (["advise", "tests.helpers:nope", "--range", "3"], "has no attribute 'nope'"),
        (["advise", "tests.helpers", "--range", "3"], "not of the form"),
        (["advise", "tests.helpers:double", "--range", "0"], "at least 1"),
        (["advise", "tests.helpers:double"], "give exactly one of"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_file_that_is_not_json_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text("1\n{oops\n")
    assert main(["advise", "tests.helpers:double", "--items-file", str(f)]) == 2
    assert "bad.jsonl:2: not a JSON line" in capsys.readouterr().err
