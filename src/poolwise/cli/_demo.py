"""`poolwise demo`: the seed's comparison, measured on this machine."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="measure threads against processes on this machine")
    p.add_argument("--quick", action="store_true", help="fewer, smaller tasks (about 10 s)")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from poolwise.demo import _quick

    console = Console()
    console.print("[bold]poolwise demo[/]: threads or processes, measured on this machine\n")
    for result in _quick.run(quick=args.quick):
        table = Table(title=f"{result.name}: {result.description}")
        for col in ("backend", "workers", "seconds", "speedup"):
            table.add_column(col, justify="right" if col != "backend" else "left")
        for t in result.timings:
            table.add_row(t.backend, str(t.workers), f"{t.seconds:.3f}", f"{t.speedup:.2f}x")
        console.print(table)
        console.print(f"[bold]verdict:[/] {result.verdict}\n")
    return 0
