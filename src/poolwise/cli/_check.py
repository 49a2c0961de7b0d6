"""`poolwise check races|deadlocks`: find races and potential deadlocks; exit 1 if found."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from poolwise.cli import UsageError
from poolwise.cli._loading import load_function, load_items


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="find races and potential deadlocks in threaded code (exit 1 if found)",
        description="Stress a function from many threads, or run a script with lock-order "
        "tracking. Exit status: 0 clean, 1 something found, 2 usage error.",
    )
    checks = p.add_subparsers(dest="check", metavar="CHECK", required=True)

    r = checks.add_parser(
        "races",
        help="call FUNCTION from many threads at once and compare with a serial run",
        description="Call FUNCTION on every item from many threads released together, with "
        "thread switches forced inside your code, and compare results, exceptions and an "
        "optional invariant with a serial run.",
    )
    r.add_argument("function", metavar="pkg.mod:FUNCTION")
    src = r.add_mutually_exclusive_group()
    src.add_argument(
        "--items", metavar="pkg.mod:NAME", help="an iterable, or a function returning one"
    )
    src.add_argument("--items-file", metavar="FILE", help="one JSON value per line")
    src.add_argument("--range", type=int, metavar="N", dest="range_n", help="the items 0..N-1")
    r.add_argument("--threads", type=int, default=8, help="threads per round (default 8)")
    r.add_argument(
        "--invariant",
        metavar="pkg.mod:FUNCTION",
        help="called after each run: False, or a value unlike the serial run's, is a race",
    )
    r.add_argument(
        "--setup", metavar="pkg.mod:FUNCTION", help="called before each run to reset state"
    )
    r.add_argument("--iterations", type=int, help="rounds to run (default: a ~1.5 s budget)")
    r.add_argument("--seed", type=int, help="replay the forced switches of a reported seed")
    r.add_argument(
        "--ignore-results",
        action="store_true",
        help="do not compare return values (for functions whose results vary anyway)",
    )
    r.set_defaults(handler=_races)

    d = checks.add_parser(
        "deadlocks",
        help="run a Python program with lock-order tracking and report lock-order cycles",
        description="Run `python script.py [args]` (or `python -m module [args]`) with every "
        "threading lock it creates tracked; report each lock-order cycle, with the stacks "
        "where each order was taken, even if this run did not hang.",
        usage="poolwise check deadlocks -- python script.py [args]",
    )
    d.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a program still running after SECONDS and show where each thread waits (exit 1)",
    )
    d.add_argument("command", nargs=argparse.REMAINDER, help="-- python script.py [args]")
    d.set_defaults(handler=_deadlocks)


def _races(args: argparse.Namespace) -> int:
    from poolwise.checks._races import check_races  # (loaded on use: the CLI starts fast)

    fn = load_function(args.function)
    items = load_items(args.items, args.items_file, args.range_n)
    if args.threads < 2:
        raise UsageError(f"--threads must be at least 2 to race, got {args.threads}")
    if args.iterations is not None and args.iterations < 1:
        raise UsageError(f"--iterations must be at least 1, got {args.iterations}")
    report = check_races(
        fn,
        items,
        threads=args.threads,
        iterations=args.iterations,
        invariant=load_function(args.invariant) if args.invariant else None,
        setup=load_function(args.setup) if args.setup else None,
        compare_results=not args.ignore_results,
        seed=args.seed,
    )
    print(report)
    if report.found:
        print("reproduce: " + _races_command(args, report.seed))
        return 1
    return 0


def _races_command(args: argparse.Namespace, seed: int | None) -> str:
    import shlex  # (the CLI starts fast)

    words = ["poolwise", "check", "races", args.function]
    for flag, value in (
        ("--items", args.items),
        ("--items-file", args.items_file),
        ("--range", args.range_n),
        ("--threads", args.threads),
        ("--setup", args.setup),
        ("--invariant", args.invariant),
        ("--seed", seed),
    ):
        if value is not None:
            words += [flag, str(value)]
    if args.ignore_results:
        words.append("--ignore-results")
    return shlex.join(words)


def _deadlocks(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if command and Path(command[0]).name.startswith(("python", "pypy")):
        python, rest = command[0], command[1:]
    else:
        python, rest = sys.executable, command
    if not rest or (rest[0] == "-m" and len(rest) < 2):
        raise UsageError("give a program to run: poolwise check deadlocks -- python script.py")
    if rest[0] != "-m" and not Path(rest[0]).is_file():
        raise UsageError(f"no such script: {rest[0]!r}")
    env = dict(os.environ)
    # the child imports this very poolwise, whatever its own sys.path holds
    here = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError(f"--timeout must be positive, got {args.timeout}")
        env["POOLWISE_CHECK_TIMEOUT"] = str(args.timeout)
    with tempfile.TemporaryDirectory(prefix="poolwise-check-") as tmp:
        out = Path(tmp) / "report.json"
        cmd = [python, "-m", "poolwise.checks._bootstrap", str(out), *rest]
        try:
            status = subprocess.call(cmd, env=env)
        except OSError as exc:
            raise UsageError(f"cannot run {python!r}: {exc.strerror}") from None
        if not out.exists():
            print(
                f"poolwise check deadlocks: the program ended (status {status}) before "
                "the lock-order report was written",
                file=sys.stderr,
            )
            return status or 1
        found = json.loads(out.read_text(encoding="utf-8"))
    cycles, deadlocks, hang = found["cycles"], found["deadlocks"], found.get("hang")
    for text in [*cycles, *deadlocks, *([hang] if hang else [])]:
        print(text)
        print()
    if cycles or deadlocks:
        print(
            f"poolwise check deadlocks: {len(cycles)} lock-order cycle(s), "
            f"{len(deadlocks)} deadlock(s) that formed, interrupted"
        )
    if hang:
        print(f"poolwise check deadlocks: the program was still running after {args.timeout:g} s")
    if cycles or deadlocks or hang:
        return 1
    print(f"poolwise check deadlocks: no lock-order cycle ({found['edges']} lock-order edges)")
    if status:
        print(f"(the program itself exited with status {status})", file=sys.stderr)
    return status
