"""Child-process entry of ``poolwise check deadlocks``: run a script under ``lock_order``.

``python -m poolwise.checks._bootstrap REPORT.json script.py [args]`` (or ``-m module [args]``)
runs the program as ``__main__`` with lock-order tracking for the whole run, then writes the
cycles and deadlocks found to REPORT.json for the parent to print, and exits with the
program's own exit status (1 after an uncaught exception, whose traceback it prints). With
``POOLWISE_CHECK_TIMEOUT`` set (seconds), a program still
running after that long is stopped: the report then also holds every thread's stack and
what each waits on, and the exit status is 1.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
from typing import Any

from poolwise.checks._lockorder import LockOrderGraph, lock_order
from poolwise.checks._watchdog import take_stacks


def _write(path: str, graph: LockOrderGraph, hang: str | None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "cycles": [str(c) for c in graph.cycles()],
                "deadlocks": list(graph.deadlocks),
                "edges": len(graph.edges),
                "hang": hang,
            },
            fh,
        )


def main(argv: list[str]) -> int:
    report_path, target, *args = argv
    module = None
    if target == "-m":
        module, *args = args
        sys.argv = [module, *args]
    else:
        sys.argv = [target, *args]
    timeout = float(os.environ.pop("POOLWISE_CHECK_TIMEOUT", "") or 0)
    done = threading.Event()  # made before the block: the guard's own locks are not tracked
    status: Any = 0
    with lock_order(raise_on_exit=False) as graph:
        if timeout > 0:

            def guard() -> None:
                if not done.wait(timeout):
                    stacks = str(take_stacks(timeout)).split("\n", 1)[-1]
                    _write(report_path, graph, f"every thread after {timeout:g} s:\n{stacks}")
                    os._exit(1)

            threading.Thread(target=guard, name="poolwise-check-timeout", daemon=True).start()
        try:
            if module is not None:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(target, run_name="__main__")
        except SystemExit as exc:
            status = exc.code
        except BaseException:
            # the program's own uncaught exception: shown as Python shows it, and the report
            # is still written (it may be the PotentialDeadlock that ended a deadlock)
            sys.excepthook(*sys.exc_info())
            status = 1
        finally:
            done.set()
    _write(report_path, graph, None)
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    sys.stderr.write(f"{status}\n")  # sys.exit("message") prints it and exits with 1
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
