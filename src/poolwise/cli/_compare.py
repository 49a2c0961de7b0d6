"""`poolwise compare` (measure every configuration) and `poolwise run` (run over a JSON-lines
file, resumably)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from poolwise._errors import Failure
from poolwise.cli import UsageError
from poolwise.cli._advise import add_input_options
from poolwise.cli._loading import iter_jsonl, load_function, load_items


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="measure a function under every backend and worker count",
        description="Run FUNCTION over the items serially, on threads and on processes, with "
        "a ladder of worker counts; report time, speed-up, CPU, memory, start-up and pickling "
        "cost, and which configuration wins (or that it is a tie).",
    )
    p.add_argument("function", metavar="pkg.mod:FUNCTION")
    add_input_options(p)
    p.add_argument(
        "--backends",
        nargs="+",
        help="default: serial thread process, and interpreter on Python 3.14+",
        choices=["serial", "thread", "process", "interpreter", "dask"],
    )
    p.add_argument("--workers", nargs="+", type=int, help="worker counts (default: a ladder)")
    p.add_argument("--sample", type=int, help="use only the first N items")
    p.add_argument("--repeat", type=int, help="runs per configuration (default: until stable)")
    p.add_argument("--budget", type=float, help="seconds for the whole comparison (default 20)")
    p.add_argument("--json", metavar="PATH", help="write the comparison as JSON")
    p.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    p.set_defaults(handler=_compare)

    r = sub.add_parser(
        "run",
        help="run a function over a JSON-lines file, one output line per item",
        description="Apply FUNCTION to every JSON value of --items-file and write one JSON "
        'line per item, {"index": i, "result": ...} or {"index": i, "error": ...}, as each '
        "completes. --resume skips the items already in the output.",
    )
    r.add_argument("function", metavar="pkg.mod:FUNCTION")
    r.add_argument("--items-file", required=True, metavar="FILE")
    r.add_argument("--output", required=True, metavar="FILE")
    r.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "serial", "thread", "process", "interpreter", "dask"],
    )
    r.add_argument("--workers", type=int)
    r.add_argument("--timeout", type=float, help="seconds each item may run (then an error line)")
    r.add_argument("--retries", type=int, default=0, help="runs again an item that crashed")
    r.add_argument("--resume", action="store_true", help="skip items already in the output")
    r.set_defaults(handler=_run)


def _compare(args: argparse.Namespace) -> int:
    # loaded on use: the CLI starts fast
    from rich.console import Console
    from rich.progress import Progress

    from poolwise.comparison._run import compare

    fn = load_function(args.function)
    items = load_items(args.items, args.items_file, args.range_n)
    if args.workers and any(w < 1 for w in args.workers):
        raise UsageError("--workers must be at least 1")
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("measuring", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, description=f"measuring {label}")

        result = compare(
            fn,
            items,
            backends=args.backends,
            workers=args.workers,
            sample=args.sample,
            repeat=args.repeat,
            budget=args.budget,
            progress=progress,
        )
    print(result)
    if args.json:
        result.to_json(args.json)
        print(f"json: {args.json}")
    if args.html:
        result.to_html(args.html)
        print(f"html: {args.html}")
    return 0


class _Indexed:
    """Carries each item's index through the pool, so results can be written as they come."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        # where ``fn`` comes from decides how the transport pickles it (by value from __main__)
        self.__module__ = getattr(fn, "__module__", None) or __name__

    def __call__(self, pair: tuple[int, Any]) -> dict[str, Any]:
        index, item = pair
        try:
            return {"index": index, "result": self.fn(item)}
        except Exception as exc:
            return {"index": index, "error": f"{type(exc).__name__}: {exc}"}


def _done_indices(path: Path) -> set[int]:
    """Indices already written. What follows the last whole line (a run killed in mid-write
    leaves a torn line, or a whole record without its newline) is cut off: that item runs
    again, and the next record starts on a line of its own."""
    done: set[int] = set()
    if not path.exists():
        return done
    good_end = 0
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                done.add(int(json.loads(raw)["index"]))
            except (ValueError, KeyError, TypeError):
                break
            good_end += len(raw)
    with path.open("rb+") as fh:
        fh.truncate(good_end)
    return done


def _line(record: Any) -> str:
    """One output line; a worker's failure (crash, timeout) arrives as a Failure."""
    if isinstance(record, Failure):
        index = record.item[0]
        exc = record.exception
        return json.dumps({"index": index, "error": f"{type(exc).__name__}: {exc}"})
    try:
        return json.dumps(record)
    except (TypeError, ValueError):
        return json.dumps(
            {
                "index": record["index"],
                "error": "the result is not JSON-serializable: " + repr(record.get("result"))[:200],
            }
        )


def _run(args: argparse.Namespace) -> int:
    from poolwise._api import imap  # (loaded on use: the CLI starts fast)
    from poolwise._progress import Progress

    fn = load_function(args.function)
    src, out = Path(args.items_file), Path(args.output)
    total = sum(1 for _ in iter_jsonl(src))  # a bad line is an error before any work
    if not total:
        raise UsageError(f"{src}: no items: the file has no JSON lines")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if out.exists() and not args.resume and out.stat().st_size:
        raise UsageError(f"{out} exists: pass --resume to continue it, or remove it")
    done = _done_indices(out) if args.resume else set()
    todo = ((i, x) for i, x in enumerate(iter_jsonl(src)) if i not in done)
    left = total - len(done & set(range(total)))
    bar = Progress(left, "poolwise run")
    try:
        with out.open("a", encoding="utf-8") as fh:
            for record in imap(
                _Indexed(fn),
                todo,
                backend=args.backend,
                workers=args.workers,
                ordered=False,
                on_error="return",
                timeout=args.timeout,
                retries=args.retries,
            ):
                fh.write(_line(record) + "\n")
                fh.flush()
                bar.advance()
    finally:
        bar.close()
    print(f"{left} items done ({total - left} were already in {out})", file=sys.stderr)
    return 0
