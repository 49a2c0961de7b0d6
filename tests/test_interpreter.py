"""backend="interpreter": what only it does (the shared behaviour is in test_api.py). Its
runs need Python 3.14; on older Pythons the error that says so is tested instead."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import poolwise as pw
from tests import helpers

NEW = sys.version_info >= (3, 14)
needs_314 = pytest.mark.skipif(not NEW, reason="subinterpreters: Python 3.14 and newer")


def _env() -> dict[str, str]:
    """This process's environment, with the paths it imports poolwise from."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if Path(p).is_dir())}


@pytest.mark.skipif(NEW, reason="3.14 has subinterpreters")
def test_before_314_the_error_names_the_version_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r'needs Python 3\.14 or newer.*backend="process"'):
        pw.map(helpers.double, range(3), backend="interpreter")
    with pytest.raises(ValueError, match=r"needs Python 3\.14"):
        pw.Executor(backend="interpreter")


@needs_314
def test_each_task_runs_in_a_worker_interpreter_not_the_main_one() -> None:
    ids = set(pw.map(helpers.interpreter_id, range(50), backend="interpreter", workers=2))
    assert 0 not in ids and 1 <= len(ids) <= 2
    assert helpers.interpreter_id(None) == 0


@needs_314
def test_module_state_is_the_interpreters_own() -> None:
    before = helpers._bumps[0]
    out = pw.map(helpers.bump_global, range(20), backend="interpreter", workers=1, chunksize=1)
    assert out == list(range(1, 21))  # one interpreter counted them all in its own module
    assert helpers._bumps[0] == before  # ...and this one's was never touched


@needs_314
def test_a_timeout_moves_the_work_to_processes_and_says_so() -> None:
    with pytest.warns(pw.FallbackWarning, match=r"cannot stop a running task.*process"):
        pids = pw.map(helpers.pid_of, range(4), backend="interpreter", timeout=30)
    assert len(pids) == 4 and set(pids) != {helpers.pid_of(None)}
    with pytest.warns(pw.FallbackWarning), pw.Executor(backend="interpreter", timeout=30) as ex:
        assert ex.backend == "process"


@needs_314
def test_a_closure_over_a_lock_is_refused_before_any_work() -> None:
    lock = threading.Lock()
    with pytest.raises(pw.PicklingError, match=r"cannot cross to another interpreter.*thread"):
        pw.map(lambda x: lock, range(3), backend="interpreter")


@needs_314
def test_an_item_that_cannot_be_pickled_fails_alone() -> None:
    out = pw.map(str, [1, threading.Lock(), 3], backend="interpreter", on_error="return")
    assert out[0] == "1" and out[2] == "3"
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, pw.PicklingError)


@needs_314
def test_an_item_refused_in_a_subinterpreter_names_the_extension_and_the_fix() -> None:
    items = [1, helpers.RefusesSubinterpreters(), 3]
    out = pw.map(str, items, backend="interpreter", chunksize=1, on_error="return")
    assert out[0] == "1" and out[2] == "3"
    assert isinstance(out[1], pw.Failure)
    assert "does not support loading in subinterpreters" in str(out[1].exception)
    assert 'use backend="process"' in str(out[1].exception)


@needs_314
def test_a_function_refused_in_a_subinterpreter_fails_each_task_saying_why() -> None:
    with pytest.raises(pw.PicklingError, match=r'subinterpreters.*backend="process"'):
        pw.map(helpers.RefusesSubinterpreters(), range(3), backend="interpreter")


@needs_314
def test_a_result_that_cannot_cross_back_fails_its_task() -> None:
    out = pw.map(helpers.lock_or_value, range(4), backend="interpreter", on_error="return")
    assert [out[i] for i in (0, 2, 3)] == [0, 2, 3]
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, pw.PicklingError)


@needs_314
def test_the_interpreters_close_with_the_pool() -> None:
    import concurrent.interpreters as interpreters  # type: ignore[import-not-found]  # (3.14+)

    before = len(interpreters.list_all())
    with pw.Executor(backend="interpreter", workers=2) as ex:
        ex.start()
        assert len(interpreters.list_all()) == before + 2
        assert len(ex._threads) == 2
    assert len(interpreters.list_all()) == before


@needs_314
def test_auto_runs_on_interpreters_when_the_model_puts_them_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poolwise.advisor import _advise, _model

    # processes priced out (as spawn on a slow machine would be), threads left out, and the
    # machine taken as idle: the model puts interpreters first, whatever the load here
    monkeypatch.setattr(_model, "STARTUP", dict.fromkeys(_model.STARTUP, (5.0, 5.0)))
    decide = _advise.decide

    def idle(p: Any, n: int | None, **kw: Any) -> Any:
        return decide(dataclasses.replace(p, busy_others=0.0), n, **{**kw, "threads": False})

    monkeypatch.setattr(_advise, "decide", idle)
    items = list(range(300))
    with pw.Executor(workers=2) as ex:
        assert list(ex.map(helpers.burn, items)) == [helpers.burn(x) for x in items]
        assert ex.advice is not None and ex.advice.backend == "interpreter", ex.advice
        assert ex.backend == "interpreter"
        assert any("cannot stop a running task" in r for r in ex.advice.reasons)
    assert pw.map(helpers.burn, items) == [helpers.burn(x) for x in items]


@needs_314
@pytest.mark.parametrize(
    "ending",
    [
        "print(ex.submit(abs, -3).result())",  # never shut down
        "f = ex.submit(time.sleep, 0.3); time.sleep(0.05); ex.terminate(); print(3)",  # running
    ],
)
def test_a_program_that_leaves_its_interpreters_open_still_exits(ending: str) -> None:
    code = (
        f"import time, poolwise as pw\nex = pw.Executor(backend='interpreter', workers=2)\n{ending}"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr
    assert "remaining subinterpreters" not in done.stderr, done.stderr
