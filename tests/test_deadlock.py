"""The parent and a worker never wait on each other through a full pipe."""

from __future__ import annotations

import time
from pathlib import Path

import poolwise as pw
from tests import crashers


def test_a_big_function_waits_for_a_worker_that_writes_a_big_result(tmp_path: Path) -> None:
    # The worker runs A and will write a 4 MB result. B's function pickles to 8 MB: were it
    # written to that busy worker now, the parent would block on the write while the worker
    # blocks writing A's result back, both forever.
    gate = str(tmp_path / "gate")
    ex = pw.Executor(backend="process", workers=1)
    try:
        a = ex.submit(crashers.big_result_after, gate)
        b = ex.submit(crashers.with_big_closure(8 << 20), 1)
        backend = ex._backend  # the gate: both tasks are with the backend
        while backend.busy() < 2:
            time.sleep(0.001)
        Path(gate).touch()
        assert len(a.result(timeout=60)) == 4 << 20
        assert b.result(timeout=60) == (8 << 20) + 1
    finally:
        ex.terminate()
