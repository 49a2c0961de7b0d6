"""The probe: run the first few items for real, in one worker process, and time them.

It runs there, not in the caller, so a function that crashes its process crashes only the
probe. Inside the worker it runs some items one after another (wall and CPU time per item) and
then some on two threads released together (does the function hold the GIL?). Starting that
worker measures this machine's process start-up; the round trip measures pickling for real.
The results come back: ``backend="auto"`` hands them to the caller and never computes them again.
"""

from __future__ import annotations

import itertools
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from poolwise import _transport

# How much the probe may cost by default: it stops taking items past these.
SERIAL_BUDGET = 0.15
THREAD_BUDGET = 0.15
LARGE_ITEM = 1 << 20  # pickled bytes beyond which the probe sends only a few items
SMALL_ITEM = 1 << 10  # ...and below which it sends many, for tasks that may be tiny
RESULT_BYTES = 32 << 20  # the probe's results stop short of this many pickled bytes in all
SAMPLE = 8  # results pickled and unpickled once more to time it


@dataclass(frozen=True)
class ProbeOutcome:
    """What the probe measured, and the items it ran (a prefix of the input)."""

    serial_wall: tuple[float, ...]  # seconds per item, run one after another
    serial_cpu: tuple[float, ...]
    serial_sizes: tuple[int, ...]  # items in each timed group (fast tasks run in groups)
    thread_items: int  # items run on two threads
    thread_wall: float  # seconds for those, end to end
    results: tuple[tuple[bool, Any, str], ...]  # (ok, value or exception, traceback) per item
    arg_bytes: float  # pickled bytes per argument and per result (means)
    result_bytes: float
    parent_serialize: float  # seconds per item the parent spends pickling in and out
    worker_serialize: float
    startup: float  # seconds to start a one-process pool and get its first answer
    start_method: str
    crashed: str = ""  # why the probe's process died, if it did
    items: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def consumed(self) -> int:
        return len(self.results)


def _cpu_time() -> float:
    """CPU time of this process and of the child processes it has waited for: a task that
    runs a subprocess computes, it does not wait, even if its own process idles. The process's
    own time from ``process_time`` (nanoseconds): ``os.times`` counts in 10 ms ticks, so a
    group of tiny tasks measured 0% CPU there and passed for waiting."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _run_group(fn: Any, group: list[Any]) -> tuple[list[Any], dict[int, Any]]:
    """Run a group at C speed (``extend(map(...))``, as the process worker does); an
    exception stops ``extend`` with the results before it kept, so its position is exact."""
    from poolwise.backends._worker import pack_error

    values: list[Any] = []
    errors: dict[int, tuple[BaseException, str]] = {}
    start = 0
    while start < len(group):
        try:
            values.extend(map(fn, itertools.islice(group, start, None)))
            break
        except BaseException as exc:  # SystemExit too: it must not kill a probe thread
            k = len(values)
            values.append(None)
            errors[k] = pack_error(exc)
            start = k + 1
    return values, errors


def _as_results(values: list[Any], errors: dict[int, Any]) -> list[tuple[bool, Any, str]]:
    return [
        (False, errors[j][0], errors[j][1]) if j in errors else (True, v, "")
        for j, v in enumerate(values)
    ]


def _thread_test(
    fn: Any,
    items: list[Any],
    i: int,
    per_item: float,
    returned: int,
    budget: float,
    results: list[tuple[bool, Any, str]],
) -> tuple[int, float]:
    """Run items from ``i`` on two threads released together; returns (items, seconds).

    The items go out in chunks of about 5 ms, taken in order under a lock, and none is taken
    once the budget has passed (after the first two): a heavy-tailed input cannot overrun the
    budget by more than a chunk, and the items run are still a prefix of the rest, as
    ``backend="auto"`` needs to resume after them. Their results are appended to ``results``."""
    per_result = returned / max(1, i)
    m = min(len(items) - i, max(2, int(budget * 4 / max(per_item, 1e-9))))
    if per_result > 0:  # what is left of the results' byte budget
        m = min(m, max(2, int((RESULT_BYTES - returned) / per_result)))
    if m < 2:
        return 0, 0.0
    q = max(1, min(m // 2, int(0.005 / max(per_item, 1e-9))))
    chunks = [items[j : min(j + q, i + m)] for j in range(i, i + m, q)]
    done: list[Any] = [None] * len(chunks)
    lock = threading.Lock()
    taken = [0]  # chunks handed out
    # the clock starts as the threads are released, in the barrier's action: read in this
    # thread after start(), it would start late by as much as the work that two threads
    # holding the GIL do before this one gets it back (a task of 25 ms looked twice as fast)
    began: list[float] = []
    barrier = threading.Barrier(2, action=lambda: began.append(time.perf_counter()))

    def worker() -> None:
        barrier.wait()
        while True:
            with lock:  # (past the budget for one thread, past it for the other too)
                j = taken[0]
                if j >= len(chunks) or (j >= 2 and time.perf_counter() - began[0] > budget):
                    return
                taken[0] = j + 1
            done[j] = _run_group(fn, chunks[j])

    threads = [threading.Thread(target=worker) for _ in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began[0]
    count = 0
    for part in done[: taken[0]]:
        out = _as_results(*part)
        results.extend(out)
        count += len(out)
    return count, wall


def _run_probe(fn: Any, items: list[Any], serial_budget: float, thread_budget: float) -> Any:
    """Runs in the worker process."""

    results: list[tuple[bool, Any, str]] = []

    # one after another; fast tasks are timed in doubling groups so the clock's own cost
    # (a fraction of a microsecond) does not pass for work
    walls: list[float] = []
    cpus: list[float] = []
    sizes: list[int] = []
    spent = 0.0
    i = 0
    k = 1
    # keep items for the thread test: half of them, or two thirds when there are few (large
    # arguments), where two threads on a handful of items would measure mostly noise
    share = len(items) // 2 if len(items) > 32 else len(items) // 3
    half = min(len(items), max(2, share))
    returned = 0  # pickled bytes of results so far: the probe must not ship gigabytes back
    # (half the results' byte budget here, the rest for the thread test)
    while i < half and (spent < serial_budget or i < 2) and returned < RESULT_BYTES // 2:
        group = items[i : min(i + k, half)]
        w0, c0 = time.perf_counter(), _cpu_time()
        values, errors = _run_group(fn, group)
        w, c = time.perf_counter() - w0, _cpu_time() - c0
        results.extend(_as_results(values, errors))
        walls.append(w / len(group))
        cpus.append(c / len(group))
        sizes.append(len(group))
        spent += w
        i += len(group)
        if values:
            returned += len(values) * len(pickle.dumps(values[-1], 5))
        if w < 0.005:
            k *= 2
    per_item = spent / max(1, i)
    thread_items, thread_wall = _thread_test(
        fn, items, i, per_item, returned, thread_budget, results
    )
    # pickling costs, from a sample: pickling every result here only to time it would cost as
    # much again as shipping them (large results: hundreds of milliseconds)
    sample = results[:SAMPLE]
    t0 = time.perf_counter()
    payload = [pickle.dumps(r[1], 5) if r[0] else b"" for r in sample]
    worker_ser = (time.perf_counter() - t0) / max(1, len(sample))
    nbytes = [len(p) for p in payload]
    del payload
    return {
        "serial_wall": walls,
        "serial_cpu": cpus,
        "serial_sizes": sizes,
        "thread_items": thread_items,
        "thread_wall": thread_wall,
        "results": results,
        "result_bytes": sum(nbytes) / max(1, len(nbytes)),
        "worker_serialize": worker_ser,
        "pid": os.getpid(),
    }


def probe(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    budget: float | None = None,
    timeout: float | None = None,
) -> tuple[ProbeOutcome, Iterator[Any]]:
    """Probe ``fn`` on the first items; return what was measured and the unconsumed rest."""
    import poolwise
    from poolwise.backends._process import choose_start_method

    serial_budget = SERIAL_BUDGET if budget is None else budget / 2
    thread_budget = THREAD_BUDGET if budget is None else budget / 2
    it = iter(items)
    first = list(itertools.islice(it, 1))
    if not first:
        raise ValueError("cannot advise on an empty input")
    arg_size = len(_transport.dumps(first[0]))
    if arg_size > LARGE_ITEM:
        cap = max(6, min(24, (128 << 20) // arg_size))  # up to 128 MB of arguments
    else:
        cap = 20_000 if arg_size < SMALL_ITEM else 256
    candidates = first + list(itertools.islice(it, cap - 1))
    t0 = time.perf_counter()
    blob = _transport.dumps(candidates)
    arg_ser = (time.perf_counter() - t0) / len(candidates)
    method = choose_start_method(None)
    t0 = time.perf_counter()
    crashed = ""
    limit = None if timeout is None else timeout * len(candidates)
    with poolwise.Executor(backend="process", workers=1, timeout=limit) as ex:
        ex.start()
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        fut = ex.submit(_run_probe, fn, candidates, serial_budget, thread_budget)
        try:
            raw = fut.result()
        except (poolwise.WorkerCrashed, poolwise.TaskTimeout) as exc:
            crashed = str(exc)
            raw = None
    del blob
    if raw is None:
        outcome = ProbeOutcome(
            (), (), (), 0, 0.0, (), arg_size, 0.0, arg_ser, 0.0, startup, method, crashed
        )
        return outcome, itertools.chain(candidates, it)
    sample = raw["results"][:SAMPLE]
    blob = _transport.dumps(sample)  # pickling happens in the worker: not timed here
    t0 = time.perf_counter()
    _transport.loads(blob)  # what unpickling the results costs the parent
    result_ser = (time.perf_counter() - t0) / max(1, len(sample))
    del blob
    n = len(raw["results"])
    outcome = ProbeOutcome(
        serial_wall=tuple(raw["serial_wall"]),
        serial_cpu=tuple(raw["serial_cpu"]),
        serial_sizes=tuple(raw["serial_sizes"]),
        thread_items=raw["thread_items"],
        thread_wall=raw["thread_wall"],
        results=tuple(raw["results"]),
        arg_bytes=float(arg_size),
        result_bytes=float(raw["result_bytes"]),
        parent_serialize=arg_ser + result_ser,
        worker_serialize=raw["worker_serialize"] + arg_ser,
        startup=startup,
        start_method=method,
        items=tuple(candidates[:n]),
    )
    return outcome, itertools.chain(candidates[n:], it)
