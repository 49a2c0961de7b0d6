"""Run every benchmark module, print a table per module and save JSON under bench/results/.

A benchmark module has ``TITLE: str`` and ``run(quick: bool) -> list[dict]``; each dict is one
row (same keys across rows). ``python -m bench [--quick] [name ...]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Benchmark modules in the order they run.
MODULES: tuple[str, ...] = (
    "core",
    "transfer",
    "native",
    "compare_cost",
    "dask",
    "interpreters",
    "auto",
    "auto_safety",
    "checks",
    "forgetting",
    "dropin",
)

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    import os

    import poolwise

    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus_total": os.cpu_count(),
        "cpus_usable": poolwise.usable_cpus(),
        "poolwise": poolwise.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    if not rows:
        Console(width=200).print(f"{title}: no rows")
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    for k in keys:
        table.add_column(k)
    for row in rows:
        table.add_row(*(escape(_fmt(row.get(k))) for k in keys))
    Console(width=220).print(table)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("names", nargs="*", help=f"modules to run (default all: {', '.join(MODULES)})")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or MODULES:
        mod = importlib.import_module(f"bench.{name}")
        rows = mod.run(args.quick)
        print_table(mod.TITLE, rows)
        out = RESULTS / f"{name}.json"
        out.write_text(
            json.dumps({"machine": machine(), "title": mod.TITLE, "rows": rows}, indent=2)
        )
        print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
