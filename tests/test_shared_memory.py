"""Large buffers to and from worker processes through shared memory (backends/_arena.py):
types kept, zero-copy read-only views, the fallback to the pipe, the option off, and nothing
left behind after each way a run can end.

A leak would be a segment still held: by the parent (a mapping or descriptor named
``memfd:poolwise`` in /proc/<pid>/maps or /proc/<pid>/fd), by a worker that outlived its pool,
or a name in /dev/shm. Each ending is checked for all three, after a task has shown that its
worker really had the arena mapped (so the check cannot pass for want of an arena).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import psutil
import pytest

import poolwise as pw
from poolwise.backends import _arena

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="memfd and /proc are Linux's"),
    pytest.mark.timeout(60),
]

ROOT = Path(__file__).parent.parent
BIG = 1 << 20  # (16 times the threshold: certainly out of band)
TAG = "memfd:" + _arena.NAME


def arenas_of(pid: int) -> int:
    """How many of the process's mappings and descriptors are poolwise segments."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().count(TAG)
        fds = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                fds += TAG in os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return maps + fds


def dev_shm() -> set[str]:
    """Names in /dev/shm that shared memory for poolwise would have: its own prefix, or
    ``multiprocessing.shared_memory``'s. (Not every name: other programs on the machine come
    and go there, multiprocessing's semaphores among them.)"""
    if not os.path.isdir("/dev/shm"):
        return set()
    return {n for n in os.listdir("/dev/shm") if n.startswith((_arena.NAME, "psm_", "wnsm_"))}


# -- what the workers run ------------------------------------------------------------------


def identity(x: Any) -> Any:
    return x


def mapped(x: Any) -> tuple[int, int]:
    """(pid, how many poolwise segments this worker has mapped)."""
    return os.getpid(), arenas_of(os.getpid())


def describe(a: Any) -> tuple[str, bool, str]:
    """The array's type, whether it is writable, and what owns its memory."""
    base = a
    while type(base).__name__ == "ndarray" and base.base is not None:
        base = base.base
    return type(a).__name__, bool(a.flags.writeable), type(getattr(base, "obj", base)).__name__


_KEPT: list[Any] = []


def keep(a: Any) -> list[float]:
    """Keeps its argument past its task (a cache): the next ones must not overwrite it."""
    _KEPT.append(a)
    return [float(k[0]) for k in _KEPT]


def fail_or_report(x: Any) -> tuple[int, int]:
    if x[0] == 1:
        raise ValueError("task failed on purpose")
    return mapped(x)


def crash_or_report(x: Any) -> tuple[int, int]:
    if x[0] == 1:
        os._exit(3)
    return mapped(x)


def hang_or_report(x: Any) -> tuple[int, int]:
    if x[0] == 1:
        time.sleep(60)
    return mapped(x)


def make_array(n: int) -> Any:
    import numpy as np

    return np.full(BIG // 8, float(n))


def make_bytes(n: int) -> bytes:
    return bytes([n]) * BIG


# -- types and views -----------------------------------------------------------------------


def test_every_kind_of_buffer_crosses_both_ways_and_keeps_its_type() -> None:
    data = bytes(range(256)) * (BIG // 256)
    items = [
        data,
        bytearray(data),
        memoryview(data).cast("i"),
        (data, 1),
        {"k": bytearray(data)},
        7,
        "small",
    ]
    out = pw.map(identity, items, backend="process", workers=2, chunksize=1)
    assert [type(x) for x in out] == [type(x) for x in items]
    assert out[0] == data and out[1] == data and out[3] == (data, 1) and out[4] == items[4]
    assert out[2].format == "i" and out[2].tobytes() == data and out[5:] == [7, "small"]


def small_view(n: int) -> memoryview:
    return memoryview(bytearray(n)).cast("i")


def test_a_memoryview_keeps_its_type_whatever_its_size() -> None:
    # (a small one became bytes, a large one stayed a memoryview)
    items = [memoryview(bytes(100)), memoryview(bytes(BIG)), (memoryview(bytes(8)).cast("d"), 1)]
    out = pw.map(identity, items, backend="process", workers=2, chunksize=1)
    assert [type(x) for x in out] == [memoryview, memoryview, tuple]
    assert out[0].tobytes() == bytes(100) and out[2][0].format == "d"
    back = pw.map(small_view, [16, BIG], backend="process", workers=2, chunksize=1)
    assert [(type(v), v.format, v.nbytes) for v in back] == [
        (memoryview, "i", 16),
        (memoryview, "i", BIG),
    ]


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_every_start_method_passes_its_arenas(method: str) -> None:
    items = [bytes([i]) * BIG for i in range(3)]
    out = pw.map(mapped, items, backend="process", workers=2, chunksize=1, start_method=method)
    assert all(n > 0 for _, n in out)
    assert pw.map(identity, items, backend="process", workers=2, start_method=method) == items


def test_numpy_arguments_are_read_only_views_of_shared_memory_and_results_writable() -> None:
    np = pytest.importorskip("numpy")
    arrays = [np.full(BIG // 8, float(i)) for i in range(4)]
    assert (
        pw.map(describe, arrays, backend="process", workers=2) == [("ndarray", False, "mmap")] * 4
    )
    with pw.Executor(backend="process", workers=2) as ex:  # (Executor.map hands arrays out)
        back = list(ex.map(make_array, range(4)))
    assert [float(b[0]) for b in back] == [0.0, 1.0, 2.0, 3.0]
    assert all(b.flags.writeable for b in back)
    back[0][0] = 5.0


def views_of_argument(a: Any) -> Any:
    """The argument itself, a view of it twice, another, and a read-only array of its own."""
    import numpy as np

    own = np.zeros(4)
    own.flags.writeable = False
    view = a.reshape(-1, 2)
    return a, view, view, a.reshape(2, -1).T, own


def test_an_argument_returned_as_it_came_is_a_writable_result() -> None:
    np = pytest.importorskip("numpy")
    arrays = [np.full(BIG // 8, float(i)) for i in range(4)]
    out = pw.map(views_of_argument, arrays, backend="process", workers=2)
    for i, (same, view, again, transposed, own) in enumerate(out):
        assert same.flags.writeable and view.flags.writeable and transposed.flags.writeable
        assert view is again  # (one object twice, as through the pipe)
        assert transposed.flags.f_contiguous and float(transposed[0, 0]) == float(i)
        assert not own.flags.writeable  # (read-only of its own: as through the pipe)
        same[0] = -1.0
    assert [float(a[0]) for a in arrays] == [0.0, 1.0, 2.0, 3.0]


def test_an_argument_a_task_keeps_is_not_overwritten_by_the_next() -> None:
    np = pytest.importorskip("numpy")
    arrays = [np.full(BIG // 8, float(i)) for i in range(4)]
    with pw.Executor(backend="process", workers=1) as ex:
        seen = [ex.submit(keep, a).result() for a in arrays]
    assert seen[-1] == [0.0, 1.0, 2.0, 3.0]


def first_byte(b: Any) -> int:
    return int(b[0])


def refilled(n: int) -> Any:
    """One buffer, refilled for each item (a reader filling the same chunk again): each task
    must see the item as it was yielded, as through the pipe."""
    buf = bytearray(BIG)
    for i in range(n):
        buf[:] = bytes([i]) * BIG
        yield buf


def test_an_item_a_generator_changes_after_yielding_it_crosses_as_it_was_yielded() -> None:
    # (a batch waiting for a worker pointed into the caller's buffer, copied only when sent)
    out = list(pw.imap(first_byte, refilled(12), backend="process", workers=2, chunksize=1))
    assert out == list(range(12))
    assert pw.map(first_byte, refilled(12), backend="process", workers=2, chunksize=1) == list(
        range(12)
    )


def test_a_batch_split_for_max_tasks_per_child_still_crosses_in_shared_memory() -> None:
    items = [bytes([i]) * BIG for i in range(6)]
    out = pw.map(mapped, items, backend="process", workers=2, chunksize=3, max_tasks_per_child=2)
    assert len({pid for pid, _ in out}) >= 3 and all(n > 0 for _, n in out)
    assert pw.map(identity, items, backend="process", workers=2, max_tasks_per_child=1) == items


def test_small_arguments_never_touch_shared_memory() -> None:
    out = pw.map(mapped, range(20), backend="process", workers=2)
    assert all(n == 0 for _, n in out)


def test_the_option_off_sends_everything_by_the_pipe() -> None:
    items = [bytes(BIG)] * 4
    on = pw.map(mapped, items, backend="process", workers=2, chunksize=1)
    off = pw.map(mapped, items, backend="process", workers=2, chunksize=1, shared_memory=False)
    assert any(n > 0 for _, n in on) and all(n == 0 for _, n in off)


def test_shared_memory_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="shared_memory must be True or False"):
        pw.map(identity, [1], backend="process", shared_memory="yes")  # type: ignore[arg-type]


def test_no_shared_memory_falls_back_to_the_pipe_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full(size: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_arena, "create_segment", full)  # (the forked workers inherit it)
    items = [bytes([i]) * BIG for i in range(6)]
    # large arguments and results (the parent's arena and the workers'), then large results
    # alone (the workers' arenas only): one warning per pool, every task done
    for fn, args, want in (
        (identity, items, items),
        (make_bytes, list(range(4)), [make_bytes(i) for i in range(4)]),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = pw.map(fn, args, backend="process", workers=2, chunksize=1, start_method="fork")
        assert out == want
        # (on 3.12+ fork from a process that runs threads warns too: not ours)
        ours = [str(w.message) for w in caught if "shared memory" in str(w.message)]
        assert len(ours) == 1, ours
        assert "could not be had" in ours[0] and "No space left on device" in ours[0]


# -- nothing left behind, however the run ends ---------------------------------------------


def _no_leak(before: set[str], workers: set[int]) -> None:
    assert arenas_of(os.getpid()) == 0
    gone, alive = psutil.wait_procs([_proc(p) for p in workers if psutil.pid_exists(p)], 10)
    assert not alive
    assert dev_shm() == before


def _proc(pid: int) -> psutil.Process:
    return psutil.Process(pid)


def _items() -> list[bytes]:
    return [bytes([i]) * BIG for i in range(6)]


def test_nothing_is_left_after_a_normal_end() -> None:
    before = dev_shm()
    out = pw.map(mapped, _items(), backend="process", workers=2, chunksize=1)
    assert all(n > 0 for _, n in out)
    _no_leak(before, {pid for pid, _ in out})


def test_nothing_is_left_after_an_exception_in_a_task() -> None:
    before = dev_shm()
    out = pw.map(
        fail_or_report, _items(), backend="process", workers=2, chunksize=1, on_error="return"
    )
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, ValueError)
    reports = [r for r in out if not isinstance(r, pw.Failure)]
    assert all(n > 0 for _, n in reports)
    _no_leak(before, {pid for pid, _ in reports})


def test_nothing_is_left_after_a_worker_crash() -> None:
    before = dev_shm()
    out = pw.map(
        crash_or_report, _items(), backend="process", workers=2, chunksize=1, on_error="return"
    )
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, pw.WorkerCrashed)
    reports = [r for r in out if not isinstance(r, pw.Failure)]
    assert all(n > 0 for _, n in reports)
    _no_leak(before, {pid for pid, _ in reports})


def test_nothing_is_left_after_a_timeout_kill() -> None:
    before = dev_shm()
    out = pw.map(
        hang_or_report,
        _items(),
        backend="process",
        workers=2,
        chunksize=1,
        timeout=1.0,
        on_error="return",
    )
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, pw.TaskTimeout)
    reports = [r for r in out if not isinstance(r, pw.Failure)]
    assert all(n > 0 for _, n in reports)
    _no_leak(before, {pid for pid, _ in reports})


CHILD = """
import os, sys, time
from pathlib import Path
import poolwise as pw

def block(x, d=sys.argv[1]):
    maps = Path("/proc/self/maps").read_text().count("memfd:poolwise")
    Path(d, f"{os.getpid()}-{maps}").touch()
    while True:
        time.sleep(0.05)

if __name__ == "__main__":
    try:
        pw.map(block, [bytes(1 << 20)] * 8, backend="process", workers=2, chunksize=1)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.stdin.read()  # (alive while the test looks at what it holds)
"""


def _start_child(tmp_path: Path) -> tuple[subprocess.Popen[str], set[int]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    gates = tmp_path / "gates"
    gates.mkdir()
    child = subprocess.Popen(
        [sys.executable, str(script), str(gates)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while len(os.listdir(gates)) < 2:  # (both workers hold a task with its arena mapped)
        assert child.poll() is None, "the child exited early"
        assert time.monotonic() < deadline, "the workers never started their tasks"
        time.sleep(0.02)
    names = [n.split("-") for n in os.listdir(gates)]
    assert all(int(maps) > 0 for _, maps in names)
    return child, {int(pid) for pid, _ in names}


def test_nothing_is_left_after_ctrl_c(tmp_path: Path) -> None:
    before = dev_shm()
    child, workers = _start_child(tmp_path)
    try:
        child.send_signal(signal.SIGINT)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "interrupted"
        assert arenas_of(child.pid) == 0  # (the child is alive: the pool let go)
        _, alive = psutil.wait_procs([_proc(p) for p in workers if psutil.pid_exists(p)], 10)
        assert not alive
        assert dev_shm() == before
    finally:
        child.kill()
        child.communicate()


def test_nothing_is_left_after_the_parent_is_killed(tmp_path: Path) -> None:
    before = dev_shm()
    child, workers = _start_child(tmp_path)
    child.kill()
    child.communicate()
    # (the workers die with their parent: PR_SET_PDEATHSIG; a segment lives only as long as a
    # process maps it, and memfd segments have no name to leave behind)
    _, alive = psutil.wait_procs([_proc(p) for p in workers if psutil.pid_exists(p)], 10)
    assert not alive
    assert dev_shm() == before


# -- large results: copied into mappings of their own, reused once free ---------------------


def maps_of_self() -> int:
    return len(Path("/proc/self/maps").read_text().splitlines())


def test_large_results_kept_are_never_overwritten_by_later_ones() -> None:
    np = pytest.importorskip("numpy")
    with pw.Executor(backend="process", workers=2) as ex:
        kept = list(ex.map(make_array, range(8)))
        # (each dropped as it comes: their mappings are reused, never the kept ones')
        streamed = [float(a[0]) + float(a[-1]) for a in ex.map(make_array, range(8, 40))]
        assert [describe(a) for a in kept] == [("ndarray", True, "mmap")] * 8
        assert all((a == float(i)).all() for i, a in enumerate(kept))
        kept[0][:] = -1.0
        assert all((a == float(i)).all() for i, a in enumerate(kept[1:], 1))
    assert streamed == [2.0 * i for i in range(8, 40)]
    out = pw.imap(make_array, range(24), backend="process", workers=2)
    assert [float(np.sum(a)) for a in out] == [float(i) * (BIG // 8) for i in range(24)]


def test_the_parents_mappings_and_descriptors_stay_flat_after_many_large_results() -> None:
    pytest.importorskip("numpy")
    with pw.Executor(backend="process", workers=2) as ex:  # (warm: imports, threads)
        list(ex.map(make_array, range(4)))
    before = maps_of_self(), len(os.listdir("/proc/self/fd"))
    for _ in range(4):
        with pw.Executor(backend="process", workers=2) as ex:
            kept = list(ex.map(make_array, range(16)))
            for _ in range(4):
                assert len(list(ex.map(make_array, range(16)))) == 16
        assert [float(a[0]) for a in kept] == [float(i) for i in range(16)]
        del kept
    maps, fds = maps_of_self(), len(os.listdir("/proc/self/fd"))
    # (a few of the allocator's or threads' own may come and go: 16 x 5 x 4 results would not)
    assert maps <= before[0] + 8 and fds <= before[1]


def test_a_forked_child_does_not_keep_the_parents_segments() -> None:
    # a worker forked to replace one that crashed, or the workers of a second pool, inherit
    # the parent's mappings of every other worker's segments: they must not keep them alive
    with pw.Executor(backend="process", workers=2) as ex:
        assert ex.submit(mapped, make_bytes(1)).result()[1] > 0
        assert arenas_of(os.getpid()) > 0  # the parent maps the worker's argument arena
        read, write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # (forking with threads)
            pid = os.fork()
        if pid == 0:  # the child: report and leave at once
            try:
                os.write(write, str(arenas_of(os.getpid())).encode())
            finally:
                os._exit(0)
        os.close(write)
        try:
            held = int(os.read(read, 64).decode())
        finally:
            os.close(read)
            os.waitpid(pid, 0)
        assert held == 0
        assert arenas_of(os.getpid()) > 0  # ...and the parent keeps its own
        assert ex.submit(identity, make_bytes(2)).result() == make_bytes(2)
