"""`poolwise advise pkg.mod:fn --items ...`: the advice and the line of code to use it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from poolwise.cli._loading import load_function, load_items


def add_input_options(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--items", metavar="pkg.mod:NAME", help="an iterable, or a function returning one"
    )
    src.add_argument("--items-file", metavar="FILE", help="one JSON value per line")
    src.add_argument("--range", type=int, metavar="N", dest="range_n", help="the items 0..N-1")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "advise",
        help="measure a function on its first items and advise serial, threads or processes",
        description="Run FUNCTION on its first items in this process, timed, and advise a backend, "
        "worker count and chunk size, with the reasons.",
    )
    p.add_argument("function", metavar="pkg.mod:FUNCTION")
    add_input_options(p)
    p.add_argument("--budget", type=float, default=None, help="seconds the measuring may take")
    p.add_argument("--json", action="store_true", help="print the advice as JSON")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from poolwise.advisor._advise import advise  # (loaded on use: the CLI starts fast)

    fn = load_function(args.function)
    items = load_items(args.items, args.items_file, args.range_n)
    advice = advise(fn, items, budget=args.budget)
    if args.json:
        print(
            json.dumps(
                {
                    "backend": advice.backend,
                    "workers": advice.workers,
                    "chunksize": advice.chunksize,
                    "expected_speedup": advice.expected_speedup,
                    "confidence": advice.confidence,
                    "reasons": list(advice.reasons),
                    "code": advice.code,
                    "predictions": advice.predictions,
                    "measured": advice.measured,
                },
                indent=2,
            )
        )
    else:
        print(str(advice).replace("fn, items", f"{fn.__name__}, items"))
    return 0
