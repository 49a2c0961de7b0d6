"""The cost model: predicted wall time of each configuration from a measured ``Profile``.

Bottleneck analysis. Per item: ``t`` seconds of wall time and ``c`` of CPU, of which ``g * t``
holds the GIL; ``s`` seconds the caller spends pickling and moving an item and its result to a
process, ``s'`` the worker's share. Over ``n`` items on ``w`` workers, with ``P`` usable CPUs of
which other programs keep ``B`` busy, our ``w`` busy workers get ``Pe(w) = min(w, P w / (w + B))``
CPUs (the OS shares CPUs fairly between runnable threads):

- serial:    n * t
- threads:   start(w) + n * mix(max(g * t, c / Pe(w)), t / w)     (one GIL: g * t is serialized)
- processes: start(w) + n * max(mix((c + s') / Pe(w), (t + s') / w),
                                (c + s' + s) / Pe(max(w, P)), s)
- interpreters (3.14+): the processes' formula, with their own start-up and ``s`` without the
  pipe (bytes are copied between interpreters in memory)

``mix(a, b) = max(a, b) + KNEE * min(a, b) * (1 - c / t)``: the bounds are what each resource
alone allows (the CPUs, or the GIL; the workers' own time); work that both waits and computes
misses both near their crossing, as the workers' computing phases collide while others wait
(5 ms of sleep + 5 ms of computing on 4 processes of 2 CPUs: 4.2 ms per item measured, both
bounds 2.6 ms). The term vanishes for work that only computes or only waits.

``start(w)`` grows with ``B`` (new processes and threads wait for a CPU to start on). A thread
trial at ``k`` threads, when one ran, scales the threads' formula to the time per item it
measured: ``threads(w) = measured * formula(w) / formula(k)``. The serial run is such a
measurement too, at one worker: ``c`` is scaled by ``min(1, t * Pe(1) / c)`` so that one worker
is predicted to take the ``t`` it took (a task that runs a subprocess has its child's CPU time
in ``c`` beside the caller's; the load counted in ``B`` can include that child).
"""

from __future__ import annotations

import math
import sys

from poolwise.advisor._profile import Profile

# seconds to start one thread, on a quiet machine; each start waits for the new thread to run,
# so it grows with the busy others (64 starts: 9 ms quiet, 31-36 ms beside one busy process)
THREAD_START = 0.00015
THREAD_PER_TASK = 2e-7  # the thread backend's own cost per task, batched
PROCESS_PER_TASK = 3e-7  # the process backend's own cost per task, batched
# Seconds to start a pool of processes and get its first answer: (pool, per worker), by start
# method; generous, from `make bench`'s fresh-program figures on a 2-core machine.
# (fork: a pool of w gave its first results in 10, 12, 19 and 30 ms for w = 1, 2, 4, 8)
STARTUP = {"fork": (0.007, 0.003), "forkserver": (0.06, 0.01), "spawn": (0.15, 0.06)}
# ...and a pool of interpreters: each imports poolwise and cloudpickle afresh (`python -m bench
# interpreters`: a new pool of 2 gave its first result in 65-75 ms where fork took 40)
INTERPRETER_STARTUP = (0.02, 0.03)
# how much of the smaller bound work that waits half its time pays on top of the larger one
# (fitted on 5 ms of sleep + 5 ms of computing, quiet and beside a busy process, threads 2-32
# and processes 2-8: within 10% where the larger bound alone was up to 45% short)
KNEE = 1.2
# The GIL sampler reads work that holds the GIL all the time as 0.78-0.93 held (it spends part
# of its own time asleep between samples), half of the time as 0.47: readings are scaled by
# this, and one above FULL_GIL is taken as the whole time (pure Python at a reading of 0.8 was
# predicted 20% faster on threads than serially; it ran 30% slower)
GIL_READ = 0.9
FULL_GIL = 0.75
TRIAL_GIL = 0.3  # from this share of the GIL held, a thread trial's time is only an upper bound


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def held_share(p: Profile, cpus: int) -> float:
    """The share of an item's wall time it holds the GIL, for the model: the sampler's reading,
    at most what the item's CPU time allows. A holder runs Python, so it holds the GIL no
    longer than it computes, stretched by the time-sharing of a busy machine (a holder can be
    preempted: ``(1 + B) / P``), with a margin of 2 for the clocks' own noise. A sampler that
    saw few samples on a busy machine can read the OS's late wake-ups as the GIL (one 5 ms
    wake-up in 14 samples read a socket client as 32% held, its CPU 3%, and processes were
    advised without a trial). Without a reading: the CPU share."""
    if not gil_enabled():
        return 0.0
    share = min(1.0, p.cpu / p.wall) if p.wall > 0 else 1.0
    if p.gil is None:
        return share
    read = 1.0 if p.gil >= FULL_GIL else min(1.0, p.gil / GIL_READ)
    return min(read, 2.0 * share * max(1.0, (1.0 + p.busy_others) / cpus))


def mix(bound: float, other: float, waits: float) -> float:
    """The time per item of two bounds that work waiting a share ``waits`` of its time meets."""
    return max(bound, other) + KNEE * min(bound, other) * waits


def cpus_for(workers: int, cpus: int, busy_others: float) -> float:
    """CPUs that ``workers`` busy threads or processes get beside ``busy_others`` busy CPUs."""
    return max(1e-9, min(float(workers), cpus * workers / (workers + busy_others)))


def startup(method: str, workers: int, busy: float = 0.0) -> float:
    """Seconds to start ``workers`` processes (``method`` "interpreter": interpreters); they
    compete for the CPUs with the ``busy`` others too (a slow start on a busy machine is what
    makes a short job lose)."""
    pool, each = (
        INTERPRETER_STARTUP if method == "interpreter" else STARTUP.get(method, STARTUP["spawn"])
    )
    return (pool + each * workers) * (1 + busy)


def predict(
    p: Profile, backend: str, workers: int, n: int, cpus: int, method: str, busy: float
) -> float:
    t, c = p.wall, p.cpu
    if backend == "serial":
        return n * t
    w = workers
    # the serial run is a measurement at one worker: where the CPU term says one worker needs
    # longer than it took (children's CPU time beside the caller's, or other programs counted
    # busier than they were), the CPU terms are scaled to agree with it
    c *= min(1.0, t * cpus_for(1, cpus, busy) / c) if c > 0 else 1.0
    waits = max(0.0, 1.0 - c / t) if t > 0 else 0.0
    if backend == "thread":
        g = held_share(p, cpus)
        # not sampled, the GIL is taken to be held as long as the item computes; for work that
        # waits, threads that ran faster than that show it is held less (a first item that
        # paid for a connection's set-up read 13% of CPU; the rest of the items 3%)
        guessed = p.gil is None and waits > 0.7
        if p.trial is not None and guessed and t > 0:
            g = min(g, p.trial[1] / t)

        def per_thread(k: int) -> float:
            return mix(max(g * t, c / cpus_for(k, cpus, busy)), t / k, waits) + THREAD_PER_TASK

        per = per_thread(w)
        if p.trial is not None:  # measured beats modelled: scale what the trial saw
            k, seconds = p.trial
            measured = seconds * per / per_thread(k)
            # ...but work that holds the GIL a good part of its time ran the trial with the
            # GIL handed over far more often than it will be, its threads started one by one
            # while the others computed: there the trial is an upper bound (16 threads read
            # 6.5 ms per item of 5 ms sleep + 5 ms computing, and took 3.8 running the job)
            per = measured if g < TRIAL_GIL else min(measured, per)
            # ...and never below what the GIL serializes, sampled or (for work that computes)
            # taken to be its CPU time: a trial reads such work fast (0.15 ms items of pure
            # Python read 0.06 ms per item on 2 threads, and run slower on threads)
            per = max(per, 0.0 if guessed else g * t)
        return THREAD_START * (1 + 2 * busy) * w + n * per
    if backend == "interpreter":
        s = p.serialize_copied if p.serialize_copied is not None else (p.serialize or 0.0)
        method = "interpreter"
    else:
        s = p.serialize or 0.0
    sw = s  # the worker unpickles and pickles what the caller pickles and unpickles
    cw = c + sw
    per = max(
        mix(cw / cpus_for(w, cpus, busy), (t + sw) / w, waits),
        (cw + s) / cpus_for(max(w, cpus), cpus, busy),
        s,
    )
    return startup(method, w, busy) + n * (per + PROCESS_PER_TASK)


def ladder(backend: str, cpus: int, items: int | None) -> list[int]:
    """Worker counts worth predicting (no more workers than items)."""
    if backend == "serial":
        return [1]
    top = 64 if backend == "thread" else 2 * cpus if backend == "interpreter" else 4 * cpus
    out = {cpus}
    k = 2 if backend == "thread" else 1
    while k <= top:
        out.add(k)
        k *= 2
    cap = top if items is None else max(1, items)
    if cap < top:
        out.add(cap)  # one worker per item left: a single round
    return sorted(x for x in out if x <= cap) or [1]


def chunksize_for(p: Profile, workers: int, n: int | None, target: float = 0.02) -> int:
    by_time = int(target / p.wall) if p.wall > 0 else 1_000_000
    if n is not None:
        by_time = min(by_time, math.ceil(n / (4 * workers)))
    return max(1, by_time)
