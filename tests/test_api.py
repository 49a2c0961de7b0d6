"""The behaviour every backend shares: one suite, parametrized over the backends.

The dask runs share the module's LocalCluster (``dask_client`` in conftest) and are skipped
where ``distributed`` is not installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import itertools
import sys
import threading
from typing import Any

import pytest

import poolwise as pw
from tests import helpers

NO_DASK = importlib.util.find_spec("distributed") is None
BACKENDS = [
    "serial",
    "thread",
    "process",
    pytest.param(
        "interpreter",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 14), reason="subinterpreters: Python 3.14 and newer"
        ),
    ),
    pytest.param(
        "dask",
        marks=pytest.mark.skipif(
            NO_DASK, reason='dask.distributed is not installed (pip install "poolwise[dask]")'
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def on(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The options that choose the backend: for dask, the module's cluster too."""
    if backend == "dask":
        return {"backend": backend, "client": request.getfixturevalue("dask_client")}
    return {"backend": backend}


def workers_for(backend: str) -> int | None:
    return None if backend == "serial" else 2


def test_map_returns_results_in_input_order(backend: str, on: dict[str, Any]) -> None:
    items = list(range(2000))
    assert pw.map(helpers.double, items, **on, workers=workers_for(backend)) == [
        2 * x for x in items
    ]


def test_map_of_nothing_is_empty(on: dict[str, Any]) -> None:
    assert pw.map(helpers.double, [], **on) == []


def test_map_takes_any_iterable(on: dict[str, Any]) -> None:
    result = pw.map(helpers.double, (x for x in range(50)), **on)
    assert result == [2 * x for x in range(50)]


def test_unordered_yields_every_result_once(on: dict[str, Any]) -> None:
    out = list(pw.imap(helpers.double, range(500), **on, ordered=False))
    assert sorted(out) == [2 * x for x in range(500)]


def test_imap_takes_an_endless_input_lazily(backend: str, on: dict[str, Any]) -> None:
    pulled = itertools.count()

    def source() -> Any:
        for x in itertools.count():
            next(pulled)
            yield x

    it = pw.imap(helpers.double, source(), **on, workers=workers_for(backend))
    first = list(itertools.islice(it, 1000))
    it.close()  # type: ignore[attr-defined]
    assert first == [2 * x for x in range(1000)]
    # bounded: what was taken from the input is what was consumed plus a bounded window
    assert next(pulled) <= 1000 + pw._api.MAX_OUTSTANDING


def test_lambdas_and_closures_work(on: dict[str, Any]) -> None:
    offset = 7
    assert pw.map(lambda x: x + offset, range(10), **on) == [x + 7 for x in range(10)]


def test_an_exception_reaches_the_caller_as_itself(backend: str, on: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="item 3 is bad") as info:
        pw.map(helpers.fail_on(3), range(10), **on, chunksize=1)
    exc = info.value
    if backend in ("process", "interpreter", "dask"):
        assert isinstance(exc.__cause__, pw.RemoteTraceback)
        assert "fail_on" in str(exc.__cause__) or "task" in str(exc.__cause__)
    else:
        assert exc.__traceback__ is not None


def test_on_error_return_delivers_every_other_result(on: dict[str, Any]) -> None:
    out = pw.map(helpers.fail_on(3), range(10), **on, on_error="return")
    assert [x for i, x in enumerate(out) if i != 3] == [x for x in range(10) if x != 3]
    failure = out[3]
    assert isinstance(failure, pw.Failure)
    assert not failure
    assert (failure.index, failure.item) == (3, 3)
    assert isinstance(failure.exception, ValueError)
    assert "item 3 is bad" in failure.traceback


def test_on_error_return_with_every_task_failing(on: dict[str, Any]) -> None:
    out = pw.map(helpers.boom, range(20), **on, on_error="return")
    assert [f.index for f in out] == list(range(20))
    assert all(isinstance(f.exception, KeyError) for f in out)


def test_initializer_runs_before_tasks(on: dict[str, Any]) -> None:
    out = pw.map(
        helpers.get_initialized,
        range(4),
        **on,
        initializer=helpers.set_initialized,
        initargs=("ready",),
    )
    assert out == ["ready"] * 4


def test_failing_initializer_is_reported(on: dict[str, Any]) -> None:
    with pytest.raises(pw.WorkerInitError, match="initializer") as info:
        pw.map(helpers.double, range(4), **on, initializer=helpers.boom, initargs=(1,))
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("chunksize", [1, 3, 1000])
def test_fixed_chunksize(on: dict[str, Any], chunksize: int) -> None:
    items = list(range(100))
    assert pw.map(helpers.double, items, **on, chunksize=chunksize) == [2 * x for x in items]


def test_progress_prints_nothing_when_not_a_terminal(
    on: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert pw.map(helpers.double, range(10), **on, progress=True) == [2 * x for x in range(10)]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# -- Executor ---------------------------------------------------------------------------------


def test_executor_submit_and_futures(backend: str, on: dict[str, Any]) -> None:
    with pw.Executor(**on, workers=workers_for(backend)) as ex:
        futures = [ex.submit(helpers.add, i, i) for i in range(30)]
        assert all(isinstance(f, cf.Future) for f in futures)
        done = {f.result() for f in cf.as_completed(futures)}
        assert done == {2 * i for i in range(30)}
        finished, pending = cf.wait([ex.submit(helpers.add, 1, b=2)])
        assert [f.result() for f in finished] == [3] and not pending


def test_executor_future_carries_the_exception(on: dict[str, Any]) -> None:
    with pw.Executor(**on) as ex:
        fut = ex.submit(helpers.boom, 5)
        assert isinstance(fut.exception(), KeyError)
        # the executor keeps working after a failed task
        assert ex.submit(helpers.double, 4).result() == 8


def test_executor_map_batches_and_keeps_order(backend: str, on: dict[str, Any]) -> None:
    with pw.Executor(**on, workers=workers_for(backend)) as ex:
        assert list(ex.map(helpers.double, range(5000))) == [2 * x for x in range(5000)]
        assert list(ex.map(helpers.add, range(5), range(5, 10))) == [
            a + b for a, b in zip(range(5), range(5, 10))
        ]
        assert list(ex.map(helpers.double, range(10), chunksize=4)) == [2 * x for x in range(10)]


def test_executor_map_raises_a_failed_task_when_reached(on: dict[str, Any]) -> None:
    with pw.Executor(**on) as ex:
        results = ex.map(helpers.fail_on(2), range(5))
        assert next(results) == 0
        assert next(results) == 1
        with pytest.raises(ValueError, match="item 2 is bad"):
            next(results)


def test_submit_after_shutdown_is_an_error(on: dict[str, Any]) -> None:
    ex = pw.Executor(**on)
    ex.submit(helpers.double, 1).result()
    ex.shutdown()
    with pytest.raises(pw.ShutdownError, match="after shutdown"):
        ex.submit(helpers.double, 1)
    with pytest.raises(RuntimeError):  # ShutdownError is a RuntimeError, as in the stdlib
        ex.map(helpers.double, [1])


def test_executor_start_then_worker_pids(backend: str, on: dict[str, Any]) -> None:
    with pw.Executor(**on, workers=workers_for(backend)) as ex:
        ex.start()
        pids = ex.worker_pids()
        if backend == "process":
            assert len(pids) == 2
            assert set(pw.map(helpers.pid_of, range(1), backend="serial")).isdisjoint(pids)
        else:
            assert pids == []


def test_thread_start_waits_for_every_thread() -> None:
    # start() promises every thread ready (its initializer run), not the first one
    gate, calls, lock = threading.Event(), [], threading.Lock()

    def init() -> None:
        with lock:
            calls.append(1)
            first = len(calls) == 1
        if not first:
            gate.wait(30)

    with pw.Executor(backend="thread", workers=3, initializer=init) as ex:
        started = threading.Event()
        t = threading.Thread(target=lambda: (ex.start(), started.set()))
        t.start()
        assert not started.wait(0.2), "start() returned before two of three threads were ready"
        gate.set()
        assert started.wait(30)
        t.join(30)
        assert len(calls) == 3


def test_executor_map_timeout_on_the_iteration() -> None:
    gate = threading.Event()
    with pw.Executor(backend="thread", workers=1) as ex:
        results = ex.map(lambda x: gate.wait(30), [1], timeout=0.05)
        with pytest.raises(cf.TimeoutError):
            next(results)
        gate.set()


def test_cancel_a_future_that_has_not_started() -> None:
    gate = threading.Event()
    with pw.Executor(backend="thread", workers=1) as ex:
        started = threading.Event()

        def hold() -> None:
            started.set()
            gate.wait(30)

        first = ex.submit(hold)
        started.wait(30)
        queued = [ex.submit(helpers.double, i) for i in range(5)]
        cancelled = [f.cancel() for f in queued]
        gate.set()
        first.result()
    # the futures that were still waiting could be cancelled; the others ran
    for f, was_cancelled in zip(queued, cancelled):
        assert f.cancelled() == was_cancelled
        if not was_cancelled:
            assert f.result() in {2 * i for i in range(5)}
    assert any(cancelled)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_full_window_of_outstanding_items_never_stalls(
    backend: str, on: dict[str, Any], ordered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the window fills at every step: results must be handed over before more input is taken
    monkeypatch.setattr(pw._api, "MAX_OUTSTANDING", 4)
    out = list(
        pw.imap(
            helpers.double,
            range(300),
            **on,
            chunksize=1,
            ordered=ordered,
            workers=workers_for(backend),
        )
    )
    assert sorted(out) == [2 * x for x in range(300)]
