"""The demo's sections: each measures one claim on this machine and returns a record.

Pure measurement: nothing here prints. ``Scale`` sets how much work each section does
(``--quick`` about 20 s in all, the default about 60 s, ``--full`` more repeats; ``tiny`` is
for tests). Each verdict is chosen from the section's numbers by ``_verdicts``; every label
comes from ``_text`` in the report's language. A check that raises shows as failed, with its
error, in its cell and its verdict.
"""

from __future__ import annotations

import faulthandler
import functools
import multiprocessing as mp
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poolwise._api import map as pw_map
from poolwise._cpus import usable_cpus
from poolwise._errors import Failure
from poolwise._executor import Executor
from poolwise.demo import _workloads as wl
from poolwise.demo._text import t
from poolwise.demo._verdicts import guide as guide_lines
from poolwise.demo._verdicts import verdict
from poolwise.report._svg import Chart


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    claim: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    verdict: str
    chart: Chart | None
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scale:
    repeat: int
    work: float  # multiplies task counts
    big: int = 10_000_000  # the largest payload moved, and the bytes hashed per task

    @staticmethod
    def named(name: str) -> Scale:
        return {
            "tiny": Scale(1, 0.05, 100_000),
            "quick": Scale(1, 1.0),
            "default": Scale(3, 2.0),
            "full": Scale(7, 4.0),
        }[name]


def _median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _n(base: int, s: Scale) -> int:
    return max(2, int(base * s.work))


def start_join(s: Scale, lang: str) -> Section:
    from poolwise.backends._start import choose_start_method  # (as the CLI's: on use)

    ctx: Any = mp.get_context(choose_start_method(None))
    results: dict[str, tuple[float, float]] = {}
    for kind in ("thread", "process"):
        starts, joins = [], []
        for _ in range(max(3, s.repeat * 3)):
            if kind == "thread":
                workers: list[Any] = [threading.Thread(target=wl.noop) for _ in range(2)]
            else:
                workers = [ctx.Process(target=wl.noop) for _ in range(2)]
            t0 = time.perf_counter()
            for w in workers:
                w.start()
            t1 = time.perf_counter()
            for w in workers:
                w.join()
            t2 = time.perf_counter()
            starts.append(t1 - t0)
            joins.append(t2 - t1)
        results[kind] = (statistics.median(starts), statistics.median(joins))
    (ts, tj), (ps, pj) = results["thread"], results["process"]
    method = ctx.get_start_method()
    nums = {
        "thread_ms": ts * 1e3,
        "tjoin_ms": tj * 1e3,
        "proc_ms": ps * 1e3,
        "pjoin_ms": pj * 1e3,
        "ratio": ps / ts if ts else float("inf"),
        "method": method,
    }
    return Section(
        "s1",
        t("s1", lang),
        t("c1", lang),
        (t("col_workers", lang), t("col_start_ms", lang), t("col_join_ms", lang)),
        (
            (t("row_threads", lang, n=2), f"{ts * 1e3:.2f}", f"{tj * 1e3:.2f}"),
            (t("row_procs", lang, n=2, method=method), f"{ps * 1e3:.2f}", f"{pj * 1e3:.2f}"),
        ),
        verdict("s1", nums, lang),
        Chart(
            t("ms", lang),
            (t("start", lang), t("join", lang)),
            (
                (t("threads", lang), (ts * 1e3, tj * 1e3)),
                (t("processes", lang), (ps * 1e3, pj * 1e3)),
            ),
        ),
        nums,
    )


def _speedups(
    fn: Callable[[Any], Any], items: list[Any], configs: list[tuple[str, int]], s: Scale
) -> dict[tuple[str, int], float]:
    out = {}
    for backend, w in configs:

        def run(b: str = backend, w: int = w) -> None:
            pw_map(fn, items, backend=b, workers=None if b == "serial" else w)

        out[(backend, w)] = _median_time(run, s.repeat)
    return out


def _speed_section(
    key: str,
    lang: str,
    fn: Callable[[Any], Any],
    items: list[Any],
    configs: list[tuple[str, int]],
    s: Scale,
) -> tuple[Section, dict[tuple[str, int], float]]:
    times = _speedups(fn, items, configs, s)
    serial = times[("serial", 1)]
    rows = tuple(
        (t(b, lang), str(w), f"{sec:.3f}", f"{serial / sec:.2f}x") for (b, w), sec in times.items()
    )
    labels = tuple(f"{t(b, lang)} x{w}" if b != "serial" else t(b, lang) for b, w in times)
    chart = Chart(
        t("chart_speedup", lang),
        labels,
        ((t("col_speedup", lang), tuple(serial / v for v in times.values())),),
    )
    columns = (t("col_backend", lang), t("col_workers", lang), t("col_seconds", lang))
    return Section(
        key,
        t(key, lang),
        t("c" + key[1:], lang),
        (*columns, t("col_speedup", lang)),
        rows,
        "",
        chart,
    ), times


def cpu_bound(s: Scale, lang: str) -> Section:
    items = [wl.calibrate(0.02)] * _n(8 * usable_cpus(), s)
    return _three_ways("s2", lang, wl.cpu_bound, items, s)


def _three_ways(
    key: str, lang: str, fn: Callable[[Any], Any], items: list[Any], s: Scale
) -> Section:
    """Serial, threads and processes on every CPU: the speed-ups and the verdict on them."""
    cpus = usable_cpus()
    configs = [("serial", 1), ("thread", cpus), ("process", cpus)]
    sec, times = _speed_section(key, lang, fn, items, configs, s)
    serial = times[("serial", 1)]
    nums = {
        "proc": serial / times[("process", cpus)],
        "thread": serial / times[("thread", cpus)],
        "cpus": cpus,
        "gil": _gil(),
    }
    return _with(sec, verdict(key, nums, lang), nums)


def _gil() -> bool:
    """Whether this Python runs with the GIL (free-threaded builds can run without it)."""
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def io_bound(s: Scale, lang: str) -> Section:
    cpus = usable_cpus()
    items = [0.02] * _n(64, s)
    configs = [
        ("serial", 1),
        ("thread", cpus),
        ("thread", 16),
        ("thread", 64),
        ("process", cpus),
        ("process", 16),
    ]
    sec, times = _speed_section("s3", lang, wl.io_bound, items, configs, s)
    serial = times[("serial", 1)]
    best_t = min((v, w) for (b, w), v in times.items() if b == "thread")
    best_p = min((v, w) for (b, w), v in times.items() if b == "process")
    t0 = time.perf_counter()
    with Executor(backend="process", workers=best_p[1]) as ex:
        ex.start()
        pstart = time.perf_counter() - t0
    nums = {
        "n": len(items),
        "best_thread": serial / best_t[0],
        "tw": best_t[1],
        "best_proc": serial / best_p[0],
        "pw": best_p[1],
        "pstart_ms": pstart * 1e3,
        "cpus": cpus,
    }
    return _with(sec, verdict("s3", nums, lang), nums)


def native(s: Scale, lang: str) -> Section:
    items = [int(1.6 * s.big)] * _n(8 * usable_cpus(), s)
    wl.native(items[0])  # make this process's input buffer before timing
    return _three_ways("s4", lang, wl.native, items, s)


def _size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n >= 1_000_000 else f"{n // 1000} kB"


def moving_data(s: Scale, lang: str) -> Section:
    """The same payloads to a thread, and to a process through a pipe and in shared memory
    (poolwise's default for buffers of 64 KiB or more), there and back."""
    sizes = [size for size in (1_000, 100_000, 1_000_000, 10_000_000) if size <= s.big]
    per_item: dict[str, list[float]] = {"thread": [], "pipe": [], "process": []}
    count = 8
    with (
        Executor(backend="process", workers=2) as pex,
        Executor(backend="process", workers=2, shared_memory=False) as piped,
        Executor(backend="thread", workers=2) as tex,
    ):
        pex.start()
        piped.start()
        for size in sizes:
            payload = [bytes(size)] * count
            for name, ex in (("thread", tex), ("pipe", piped), ("process", pex)):

                def roundtrip(ex: Executor = ex, p: list[bytes] = payload) -> None:
                    list(ex.map(wl.echo, p))

                roundtrip()  # (warm: a pool's arenas grow to the payload once)
                sec = _median_time(roundtrip, s.repeat)
                per_item[name].append(sec / count * 1e3)

    def gbps(size: int, ms: float) -> float:
        return 2 * size / max(ms, 1e-9) * 1e3 / 1e9  # (there and back)

    rows = tuple(
        (
            _size(size),
            f"{tm:.3f}",
            f"{pp:.2f}",
            f"{pm:.2f}",
            f"{gbps(size, pp):.2f}",
            f"{gbps(size, pm):.2f}",
        )
        for size, tm, pp, pm in zip(
            sizes, per_item["thread"], per_item["pipe"], per_item["process"]
        )
    )
    proc_ms, pipe_ms = per_item["process"][-1], per_item["pipe"][-1]
    nums = {
        "big": _size(sizes[-1]),
        "proc_ms": proc_ms,
        "pipe_ms": pipe_ms,
        "thread_ms": per_item["thread"][-1],
        "ratio": proc_ms / max(per_item["thread"][-1], 1e-6),
        "gain": pipe_ms / max(proc_ms, 1e-6),
        "shm_gbps": gbps(sizes[-1], proc_ms),
        "pipe_gbps": gbps(sizes[-1], pipe_ms),
        "sizes": sizes,
        "per_item_ms": per_item,
    }
    return Section(
        "s5",
        t("s5", lang),
        t("c5", lang),
        (
            t("col_payload", lang),
            t("col_thread_ms_item", lang),
            t("col_pipe_ms_item", lang),
            t("col_proc_ms_item", lang),
            t("col_gbps_pipe", lang),
            t("col_gbps_shm", lang),
        ),
        rows,
        verdict("s5", nums, lang),
        Chart(
            t("chart_ms_item", lang),
            tuple(_size(x) for x in sizes),
            (
                (t("threads", lang), tuple(per_item["thread"])),
                (t("processes_pipe", lang), tuple(per_item["pipe"])),
                (t("processes_shm", lang), tuple(per_item["process"])),
            ),
            log=True,
        ),
        nums,
    )


def startup_memory(s: Scale, lang: str) -> Section:
    import psutil  # (loaded when this section runs)

    me = psutil.Process()
    counts = [1, 2, 4, 8] if s.work >= 1 else [1, 2, 4]
    rows, t_ms, p_ms, t_mb, p_mb = [], [], [], [], []
    for n in counts:
        gate = threading.Event()
        before = me.memory_info().rss
        t0 = time.perf_counter()
        threads = [threading.Thread(target=wl.wait_on, args=(gate,)) for _ in range(n)]
        for th in threads:
            th.start()
        tstart = time.perf_counter() - t0
        tmem = max(0, me.memory_info().rss - before) / 1e6
        gate.set()
        for th in threads:
            th.join()
        t0 = time.perf_counter()
        with Executor(backend="process", workers=n) as ex:
            ex.start()
            pstart = time.perf_counter() - t0
            pmem = 0.0
            for pid in ex.worker_pids():
                try:
                    info = psutil.Process(pid).memory_full_info()
                    pmem += getattr(info, "uss", info.rss) / 1e6
                except psutil.Error:
                    pass
        rows.append(
            (str(n), f"{tstart * 1e3:.2f}", f"{tmem:.1f}", f"{pstart * 1e3:.1f}", f"{pmem:.1f}")
        )
        t_ms.append(tstart * 1e3)
        p_ms.append(pstart * 1e3)
        t_mb.append(tmem)
        p_mb.append(pmem)
    nums = {
        "n": counts[-1],
        "thread_ms": t_ms[-1],
        "proc_ms": p_ms[-1],
        "thread_mb": t_mb[-1],
        "proc_mb": p_mb[-1],
        "counts": counts,
    }
    return Section(
        "s6",
        t("s6", lang),
        t("c6", lang),
        tuple(
            t(k, lang)
            for k in ("col_n_workers", "col_t_start", "col_t_mb", "col_p_start", "col_p_mb")
        ),
        tuple(rows),
        verdict("s6", nums, lang),
        Chart(
            t("chart_ms_start", lang),
            tuple(str(c) for c in counts),
            ((t("threads", lang), tuple(t_ms)), (t("processes", lang), tuple(p_ms))),
        ),
        nums,
    )


THREAD_SEGFAULT = (
    "import ctypes, threading\n"
    "t = threading.Thread(target=lambda: ctypes.string_at(0))\n"
    "t.start(); t.join()\n"
    "print('the program survived')\n"
)


def crash_isolation(s: Scale, lang: str) -> Section:
    n = 10
    # (faulthandler off in the workers: under `python -X faulthandler` or pytest, the crash we
    # cause on purpose would print a "Fatal Python error" dump)
    out = pw_map(
        wl.segfault_on(3),
        range(n),
        backend="process",
        workers=2,
        on_error="return",
        initializer=faulthandler.disable,
    )
    failed = [r for r in out if isinstance(r, Failure)]
    ok = n - len(failed)
    child = subprocess.run(
        [sys.executable, "-c", THREAD_SEGFAULT], capture_output=True, text=True, timeout=60
    )
    survived = "survived" in child.stdout
    nums = {
        "n": n,
        "ok": ok,
        "failed": len(failed),
        "code": child.returncode,
        "thread_survived": survived,
        "error": str(failed[0].exception) if failed else "",
    }
    thread_fate = t("survived" if survived else "killed", lang, code=child.returncode)
    return Section(
        "s7",
        t("s7", lang),
        t("c7", lang),
        (t("col_fault_where", lang), t("col_completed", lang), t("col_program", lang)),
        (
            (
                t("row_worker_process", lang, n=n),
                t("n_of_total", lang, k=ok, n=n),
                t("went_on", lang),
            ),
            (t("row_thread_child", lang), t("n_of_total", lang, k=0, n=1), thread_fate),
        ),
        verdict("s7", nums, lang),
        Chart(
            t("col_completed", lang),
            (t("process", lang), t("thread", lang)),
            ((t("completed", lang), (float(ok), 0.0)),),
        ),
        nums,
    )


def _threads_run(fn: Callable[[Any], Any], items: list[Any], threads: int = 8) -> None:
    """8 threads at a barrier, with the switch interval forced to 1 us (from 5 ms) so that
    threads switch as often as CPython allows: only at calls and backward jumps."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _threads_run_now(fn, items, threads)
    finally:
        sys.setswitchinterval(old)


def _threads_run_now(fn: Callable[[Any], Any], items: list[Any], threads: int) -> None:
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for x in items:
            fn(x)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()


def _check_status(check: Callable[[], bool]) -> str:
    """'found', 'missed', or 'failed: Type: message' when the check itself raised."""
    try:
        return "found" if check() else "missed"
    except Exception as exc:  # one check, shown as failed with its error: not a whole block
        return f"failed: {type(exc).__name__}: {exc}"


def _cell(status: str, lang: str) -> str:
    if status.startswith("failed: "):
        return t("failed", lang, why=status.removeprefix("failed: "))
    return t("yes" if status == "found" else "no", lang)


def races(s: Scale, lang: str) -> Section:
    per = _n(20_000, s)
    wl.reset()
    _threads_run(wl.bump, [0] * per)
    plain_lost = 8 * per - wl.shared.value
    words = ["a", "b", "c", "d"] * (per // 4)
    wl.reset()
    _threads_run(wl.count_word, words)
    dict_lost = 8 * len(words) - sum(wl.tally.values())
    wl.reset()
    _threads_run(wl.bump_locked, [0] * per)
    locked_lost = 8 * per - wl.shared.value
    from poolwise.checks._races import check_races  # (the demo loads it when it gets here)

    checks = {
        name: _check_status(
            lambda fn=fn, items=items, inv=inv: (
                check_races(  # type: ignore[misc]
                    fn, items, setup=wl.reset, invariant=inv, iterations=5
                ).found
            )
        )
        for name, fn, items, inv in (
            ("plain", wl.bump, [0] * 50, lambda: wl.shared.value),
            ("dict", wl.count_word, ["a", "b"] * 25, lambda: dict(wl.tally)),
            ("locked", wl.bump_locked, [0] * 50, lambda: wl.shared.value),
        )
    }
    wl.reset()
    counts = pw_map(
        wl.bump_many_in_this_process, [1000] * 4, backend="process", workers=2, chunksize=1
    )
    parent = wl.shared.value
    nums = {
        "total": 8 * per,
        "plain_lost": plain_lost,
        "dict_lost": dict_lost,
        "locked_lost": locked_lost,
        "checks": checks,
        "parent": parent,
        "worker_counts": [c for _, c in counts],
        "gil": _gil(),
    }
    lost = functools.partial(t, "lost_of", lang, total=8 * per)
    return Section(
        "s8",
        t("s8", lang),
        t("c8", lang),
        (t("col_code", lang), t("col_lost", lang), t("col_check_races", lang)),
        (
            ("counter.value += 1", lost(lost=plain_lost), _cell(checks["plain"], lang)),
            ("d[k] = d.get(k, 0) + 1", lost(lost=dict_lost), _cell(checks["dict"], lang)),
            (t("row_locked", lang), lost(lost=locked_lost), _cell(checks["locked"], lang)),
            (t("row_processes", lang), t("parent_stays", lang, parent=parent), t("dash", lang)),
        ),
        verdict("s8", nums, lang),
        Chart(
            t("chart_lost", lang),
            ("counter += 1", "d[k] = d.get(k,0)+1"),
            ((t("lost", lang), (float(plain_lost), float(dict_lost))),),
        ),
        nums,
    )


def _inversion_found() -> bool:
    """Thread 1 takes A then B, thread 2 then B then A, one after the other: no hang, but
    lock_order must report the cycle."""
    from poolwise.checks._lockorder import lock_order  # (as check_races above)

    first_done = threading.Event()

    def take(first: Any, second: Any) -> None:
        with first, second:
            pass

    with lock_order(raise_on_exit=False) as graph:
        a, b = threading.Lock(), threading.Lock()

        def first_order() -> None:
            take(a, b)
            first_done.set()

        th = threading.Thread(target=first_order)
        th.start()
        first_done.wait(30)
        th.join()
        take(b, a)  # the other order, after the first thread is done: no hang
    return bool(graph.cycles())


def deadlocks(s: Scale, lang: str) -> Section:
    status = _check_status(_inversion_found)
    nums = {"status": status, "error": status.partition(": ")[2]}
    return Section(
        "s9",
        t("s9", lang),
        t("c9", lang),
        (t("col_program", lang), t("col_lock_order", lang)),
        ((t("row_inversion", lang), _cell(status, lang)),),
        verdict("s9", nums, lang),
        None,
        nums,
    )


def _first_result_ms(backend: str, repeat: int) -> tuple[float, str]:
    """Milliseconds from a new pool of 2 to its first result (median of ``repeat``), and the
    start method its processes used ("" for threads and interpreters)."""
    used: set[str] = set()

    def run() -> None:
        with Executor(backend=backend, workers=2) as ex:
            ex.submit(wl.echo, 1).result()
            used.update(getattr(getattr(ex, "_backend", None), "start_methods_used", ()) or ())

    run()  # (the first pool of each kind pays for imports a program pays once)
    return _median_time(run, repeat) * 1e3, ", ".join(sorted(used))


def interpreters(s: Scale, lang: str) -> Section:
    """The seed's question asked of all three models, where this Python has the third
    (3.14's subinterpreters); before 3.14, what it would add, without numbers."""
    version = ".".join(map(str, sys.version_info[:2]))
    if sys.version_info < (3, 14):
        nums: dict[str, Any] = {"available": False, "python": version}
        return Section(
            "s10", t("s10", lang), t("c10", lang), (), (), verdict("s10", nums, lang), None, nums
        )
    cpus = usable_cpus()
    items = [wl.calibrate(0.02)] * _n(8 * cpus, s)
    serial = _median_time(lambda: [wl.cpu_bound(x) for x in items], s.repeat)
    payload = [bytes(s.big)] * 8
    ran: dict[str, float] = {}
    moved: dict[str, float] = {}
    first: dict[str, float] = {}
    methods: dict[str, str] = {}
    for backend in ("thread", "process", "interpreter"):
        first[backend], methods[backend] = _first_result_ms(backend, max(3, s.repeat))
        # the speed-up of a started pool: what starting one costs is the column before
        with Executor(backend=backend, workers=cpus) as ex:
            ex.start()
            list(ex.map(wl.cpu_bound, items[:cpus]))

            def compute(ex: Executor = ex) -> None:
                list(ex.map(wl.cpu_bound, items))

            def roundtrip(ex: Executor = ex) -> None:
                list(ex.map(wl.echo, payload))

            ran[backend] = _median_time(compute, s.repeat)
            moved[backend] = _median_time(roundtrip, s.repeat) / len(payload) * 1e3
    speed = {b: serial / ran[b] for b in ("thread", "process", "interpreter")}
    nums = {
        "available": True,
        "python": version,
        "cpus": cpus,
        "gil": _gil(),
        "thread": speed["thread"],
        "proc": speed["process"],
        "interp": speed["interpreter"],
        "first_thread_ms": first["thread"],
        "first_proc_ms": first["process"],
        "first_interp_ms": first["interpreter"],
        "start_ratio": first["interpreter"] / max(first["process"], 1e-9),
        "method": methods["process"] or "?",
        "big": _size(s.big),
        "move_proc_ms": moved["process"],
        "move_interp_ms": moved["interpreter"],
        "move_thread_ms": moved["thread"],
        "move_ratio": moved["process"] / max(moved["interpreter"], 1e-9),
    }
    names = {"thread": "threads", "process": "processes", "interpreter": "interpreters"}
    rows = tuple(
        (
            t(names[b], lang),
            f"{speed[b]:.2f}x",
            f"{first[b]:.1f}",
            f"{moved[b]:.2f}",
        )
        for b in ("thread", "process", "interpreter")
    )
    return Section(
        "s10",
        t("s10", lang),
        t("c10", lang),
        (
            t("col_backend", lang),
            t("col_speedup_started", lang),
            t("col_first_ms", lang),
            t("col_move_ms", lang, size=_size(s.big)),
        ),
        rows,
        verdict("s10", nums, lang),
        Chart(
            t("chart_speedup", lang),
            tuple(t(names[b], lang) for b in ("thread", "process", "interpreter")),
            ((t("col_speedup", lang), tuple(speed.values())),),
        ),
        nums,
    )


def guide(sections: dict[str, Section], lang: str) -> Section:
    lines = guide_lines({k: v.numbers for k, v in sections.items()}, lang)
    return Section(
        "s11",
        t("s11", lang),
        "",
        (t("col_guide", lang),),
        tuple((x,) for x in lines),
        " ".join(lines[:2]),
        None,
        {"guide": lines},
    )


def _with(sec: Section, verdict: str, numbers: dict[str, Any]) -> Section:
    return Section(
        sec.key, sec.title, sec.claim, sec.columns, sec.rows, verdict, sec.chart, numbers
    )


SECTIONS: tuple[Callable[[Scale, str], Section], ...] = (
    start_join,
    cpu_bound,
    io_bound,
    native,
    moving_data,
    startup_memory,
    crash_isolation,
    races,
    deadlocks,
    interpreters,
)


def run_all(
    scale: str = "default",
    lang: str = "en",
    on_section: Callable[[Section], None] | None = None,
) -> list[Section]:
    """Measure every section; ``on_section`` is called as each one completes."""
    s = Scale.named(scale)
    done: dict[str, Section] = {}
    for measure in SECTIONS:
        sec = measure(s, lang)
        done[sec.key] = sec
        if on_section:
            on_section(sec)
    final = guide(done, lang)
    if on_section:
        on_section(final)
    return [*done.values(), final]
