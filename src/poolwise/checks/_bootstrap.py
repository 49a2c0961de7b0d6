"""Child-process entry of ``poolwise check deadlocks``: run a script under ``lock_order``.

``python -m poolwise.checks._bootstrap REPORT.json script.py [args]`` (or ``-m module [args]``)
runs the program as ``__main__`` with lock-order tracking for the whole run, then writes the
cycles and deadlocks found to REPORT.json for the parent to print, and exits with the
program's own exit status.
"""

from __future__ import annotations

import json
import runpy
import sys
from typing import Any

from poolwise.checks._lockorder import lock_order


def main(argv: list[str]) -> int:
    report_path, target, *args = argv
    module = None
    if target == "-m":
        module, *args = args
        sys.argv = [module, *args]
    else:
        sys.argv = [target, *args]
    status: Any = 0
    with lock_order(raise_on_exit=False) as graph:
        try:
            if module is not None:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(target, run_name="__main__")
        except SystemExit as exc:
            status = exc.code
    cycles = graph.cycles()
    with open(report_path, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "cycles": [str(c) for c in cycles],
                "deadlocks": list(graph.deadlocks),
                "edges": len(graph.edges),
            },
            fh,
        )
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    sys.stderr.write(f"{status}\n")  # sys.exit("message") prints it and exits with 1
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
