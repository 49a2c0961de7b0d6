"""The default, ``backend="auto"``, against a plain loop and the best configuration.

For each workload: a plain loop (``[fn(x) for x in items]``); a sweep of every explicit
configuration (serial; threads 2..64; processes 1..4x CPUs) that finds the best; what
``advise`` picks, run alone; and ``poolwise.map(fn, items)`` end to end with nothing remembered
(first call) and again (second call, the profile remembered). The loop, the best, the advised and
both default runs are then timed side by side in alternating rounds (medians). The suite runs
twice: on a quiet machine, and with a process busy-looping on one CPU the whole time.

Goals (issue 16), in each pass:
- do no harm: default <= 1.1 x loop + 10 ms on every workload;
- worth it: default <= 1.2 x best + 10 ms on at least 90% of the workloads;
- picks: advised <= 1.1 x best (or + 10 ms) on at least 90%;
- pays once: the second call's decision costs at most 1 ms (its time minus the loop's or the
  advised configuration's, whichever it ran);
- correct: every default result equals the loop's.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poolwise as pw
from bench.core import interleaved, median_time
from poolwise.demo._workloads import calibrate
from poolwise.demo._workloads import cpu_bound as spin
from poolwise.demo._workloads import io_bound as nap

TITLE = "auto: the default vs a plain loop and the best configuration (quiet, then busy)"

_PORT = 0
_DB = ""


def tiny(x: int) -> int:
    return x * 2


def sha(n: int) -> str:
    return hashlib.sha256(b"x" * n).hexdigest()


def squeeze(n: int) -> int:
    return len(zlib.compress(random.Random(n).randbytes(200_000), 6))


def big_arg(blob: bytes) -> bytes:
    return hashlib.sha1(blob).digest()  # ~10 ms of work per 8 MB argument


_BLOB = bytes(8_000_000)


def same_big(_: int) -> bytes:
    return _BLOB  # 8 MB results, made in no time: a process would only cost here


def regex(n: int) -> int:
    return len(_WORDS.findall(_TEXT[n % 7 :]))


def jsonish(n: int) -> int:
    return len(json.dumps(json.loads(_JSON)[n % 3 :]))


_TEXT = " ".join(f"word{i} other{i * 7} x{i % 13}" for i in range(20_000))
_WORDS = re.compile(r"\b\w+\d\b")
_JSON = json.dumps([{"id": i, "name": f"n{i}", "tags": list(range(i % 10))} for i in range(3000)])


def mixed(n: int) -> int:
    time.sleep(0.005)
    return spin(n)


def tailed(n: int) -> int:
    return spin(n)


def run_true(_: int) -> int:
    return subprocess.run(["true"], check=True).returncode


def query(k: int) -> int:
    con = sqlite3.connect(_DB)
    try:
        row = con.execute("select count(*), sum(b) from t where a % 97 = ?", (k % 97,)).fetchone()
        return int(row[0])
    finally:
        con.close()


def echo(k: int) -> int:
    with socket.create_connection(("127.0.0.1", _PORT)) as s:
        s.sendall(b"%d\n" % k)
        return len(s.recv(64))


def set_globals(port: int, db: str) -> None:
    global _PORT, _DB
    _PORT, _DB = port, db


ECHO_SERVER = """
import socket, threading, time, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(256)
print(srv.getsockname()[1], flush=True)
def handle(c):
    with c:
        data = c.recv(64); time.sleep(0.005); c.sendall(data)
while True:
    c, _ = srv.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
"""


def workloads(quick: bool) -> list[tuple[str, Callable[[Any], Any], list[Any]]]:
    spin_n = calibrate(0.01)
    rng = random.Random(7)
    k = 1 if quick else 2
    return [
        ("pure-Python CPU, 10 ms", spin, [spin_n] * (15 * k)),
        ("pure-Python CPU, 0.2 ms", spin, [spin_n // 50] * (500 * k)),
        ("tiny tasks, 50,000 x*2", tiny, list(range(50_000))),
        ("tiny job, 100 x*2", tiny, list(range(100))),
        ("sleeping 10 ms", nap, [0.01] * (32 * k)),
        ("short job: 4 sleeps of 5 ms", nap, [0.005] * 4),
        ("hashlib (releases the GIL)", sha, [4_000_000] * (15 * k)),
        ("zlib (releases the GIL)", squeeze, list(range(15 * k))),
        ("regex (holds the GIL)", regex, list(range(40 * k))),
        ("json (holds the GIL)", jsonish, list(range(40 * k))),
        ("8 MB results, made at once", same_big, list(range(32))),
        ("16 MB arguments", big_arg, [bytes(16_000_000)] * (8 * k)),
        ("mixed: 5 ms wait + 5 ms CPU", mixed, [spin_n // 2] * (20 * k)),
        (
            "heavy-tailed CPU",
            tailed,
            [int(spin_n * min(20, rng.paretovariate(1.5)) / 3) for _ in range(30 * k)],
        ),
        ("subprocess calls", run_true, list(range(20 * k))),
        ("sqlite queries", query, list(range(30 * k))),
        ("sockets (5 ms server)", echo, list(range(50 * k))),
        ("one slow item, 50 ms CPU", spin, [spin_n * 5]),
    ]


def configs(cpus: int) -> list[tuple[str, int]]:
    out = [("serial", 1)]
    out += [("thread", w) for w in (2, 4, 8, 16, 32, 64)]
    out += [("process", w) for w in sorted({1, 2, cpus, 2 * cpus, 4 * cpus})]
    return out


def _label(backend: str, w: int) -> str:
    return backend if backend == "serial" else f"{backend} x{w}"


def _suite(quick: bool, load: str) -> list[dict[str, Any]]:
    cpus = pw.usable_cpus()
    repeat = 1 if quick else 3
    rows = []
    only = [o for o in os.environ.get("BENCH_ONLY", "").split(",") if o]  # names' parts
    for name, fn, items in workloads(quick):
        if only and not any(o in name for o in only):
            continue
        expected = [fn(x) for x in items]
        sweep: dict[str, float] = {}
        for backend, w in configs(cpus):
            if backend != "serial" and w > len(items) * 2:
                continue
            sweep[_label(backend, w)] = median_time(
                lambda b=backend, w=w, fn=fn, items=items: pw.map(
                    fn, items, backend=b, workers=None if b == "serial" else w
                ),
                repeat,
            )
        pw.forget()
        advice = pw.advise(fn, items)
        pw.forget()
        first_out = pw.map(fn, items)
        decided = [r.decision for r in pw.remembered()]
        best_name = min(sweep, key=sweep.__getitem__)
        b_backend, _, b_w = best_name.partition(" x")

        def run_config(b: str, w: int | None, fn: Any = fn, items: Any = items) -> Any:
            return pw.map(fn, items, backend=b, workers=w)

        def first_call(fn: Any = fn, items: Any = items) -> Any:
            pw.forget()
            return pw.map(fn, items)

        runners = {
            "loop": lambda fn=fn, items=items: [fn(x) for x in items],
            "best": lambda b=b_backend, w=(int(b_w) if b_w else None): run_config(b, w),
            "advised": lambda b=advice.backend, w=(None if advice.backend == "serial" else advice.workers): (
                run_config(b, w)
            ),
            "default": first_call,
            "second": lambda fn=fn, items=items: pw.map(fn, items),
        }
        t = interleaved(runners, 2 * repeat + 1)
        correct = first_out == expected and pw.map(fn, items) == expected
        loop, best = t["loop"], min(t["best"], t["loop"])
        advised_label = _label(advice.backend, advice.workers)
        rows.append(
            {
                "load": load,
                "workload": name,
                "loop_s": loop,
                "best": best_name if t["best"] <= t["loop"] else "loop",
                "best_s": best,
                "advised": advised_label,
                "advised_s": t["advised"],
                "default_s": t["default"],
                "default_chose": decided[-1] if decided else "serial (finished in the loop)",
                "second_s": t["second"],
                "no_harm": t["default"] <= 1.1 * loop + 0.010,
                "worth_it": t["default"] <= 1.2 * best + 0.010,
                "picks": t["advised"] <= max(1.1 * best, best + 0.010),
                "second_no_harm": t["second"] <= 1.1 * loop + 0.010,
                "correct": correct,
                "confidence": advice.confidence,
            }
        )
    n = len(rows)

    def count(key: str) -> str:
        return f"{sum(bool(r[key]) for r in rows)}/{n}"

    rows.append(
        {
            "load": load,
            "workload": f"SUMMARY ({load}): no harm {count('no_harm')}, worth it "
            f"{count('worth_it')}, picks {count('picks')}, correct {count('correct')}",
        }
    )
    return rows


BUSY = "import time\nwhile True:\n    pass\n"


def run(quick: bool) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp())
    db = str(tmp / "bench.sqlite")
    con = sqlite3.connect(db)
    con.execute("create table t (a integer, b integer)")
    con.executemany("insert into t values (?, ?)", ((i, i * 3) for i in range(200_000)))
    con.commit()
    con.close()
    server = subprocess.Popen(
        [sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    set_globals(port, db)
    rows = []
    try:
        rows += _suite(quick, "quiet")
        busy = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            rows += _suite(quick, "busy")
        finally:
            busy.kill()
            busy.wait()
    finally:
        server.kill()
        server.wait()
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(TITLE, run(quick="--quick" in sys.argv))
