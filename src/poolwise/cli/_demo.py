"""`poolwise demo`: every claim about threads and processes, measured on this machine."""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path
from typing import Any

from poolwise.cli import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="measure threads against processes on this machine (terminal + HTML report)",
        description="Measure, on this machine, what threads and processes cost and gain: "
        "start-up, CPU-bound and waiting work, native code, moving data, memory, crashes, "
        "races and deadlocks. About 60 s (--quick: 20 s).",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="less work, one repeat (about 20 s)")
    size.add_argument("--full", action="store_true", help="more work and repeats")
    p.add_argument(
        "--html",
        default="poolwise-report.html",
        metavar="PATH",
        help="where to write the HTML report (default: %(default)s); '' for none",
    )
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--lang", default="en", help="report language: en (default) or ko")
    p.set_defaults(handler=_run)


def _machine() -> dict[str, Any]:
    from poolwise._cpus import usable_cpus  # (the CLI starts fast)
    from poolwise.backends._start import choose_start_method

    return {
        "cpus": usable_cpus(),
        "python": platform.python_version(),
        "method": choose_start_method(None),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console  # (the CLI starts fast)
    from rich.table import Table

    from poolwise.demo._html import render
    from poolwise.demo._sections import Section, run_all
    from poolwise.demo._text import LANGS, t

    if args.lang not in LANGS:
        raise UsageError(f"unknown --lang {args.lang!r}; use one of {', '.join(LANGS)}")
    scale = "quick" if args.quick else "full" if args.full else "default"
    console = Console()
    machine = _machine()
    console.print(f"[bold]{t('title', args.lang)}[/]")
    console.print(t("machine", args.lang, **machine) + "\n")
    started = time.perf_counter()

    def show(sec: Section) -> None:
        table = Table(title=f"[bold]{sec.title}[/]", title_justify="left")
        for col in sec.columns:
            table.add_column(col)
        for row in sec.rows:
            table.add_row(*row)
        if sec.claim:
            console.print(f"[dim]{sec.claim}[/]")
        console.print(table)
        if sec.key != "s11":
            console.print(f"[bold]→[/] {sec.verdict}\n")

    sections = run_all(scale, args.lang, show)
    elapsed = time.perf_counter() - started
    if args.html:
        path = Path(args.html)
        path.write_text(render(sections, lang=args.lang, machine=machine), encoding="utf-8")
        console.print("\n" + t("report_at", args.lang, path=path.resolve()))
    if args.json:
        data = {
            "machine": machine,
            "seconds": elapsed,
            "sections": [dataclasses.asdict(s) for s in sections],
        }
        Path(args.json).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        console.print(t("numbers_at", args.lang, path=Path(args.json).resolve()))
    console.print(f"[dim]{t('measured_in', args.lang, seconds=elapsed)}[/]")
    return 0
