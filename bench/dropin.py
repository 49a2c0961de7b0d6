"""The standard library's own tests for ``concurrent.futures``, run against poolwise's drop-in
classes (issue 17).

Each module of ``test.test_concurrent_futures`` runs in a child interpreter of its own, with
``concurrent.futures.ThreadPoolExecutor`` and ``ProcessPoolExecutor`` replaced by poolwise's
before the suite is imported. A test that runs longer than ``TEST_LIMIT`` seconds is a hang:
the child dumps every stack and exits, and the module is reported as not finished. The suite
ships with the interpreter (3.13's layout, a package of modules; pyenv's 3.11 here has no
``test`` package), so this runs it with the project's 3.13 environment unless this one has it.

``python -m bench dropin`` (``make dropin``) prints a row per module and saves the failing
tests with their last line (``bench/results/dropin_failing.json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TITLE = "drop-in: CPython's test_concurrent_futures against poolwise's executors"
MODULES = (
    "test_as_completed",
    "test_future",
    "test_wait",
    "test_init",
    "test_thread_pool",
    "test_shutdown",
    "test_process_pool",
    "test_deadlock",
)
TEST_LIMIT = 90  # seconds one test may take before it counts as a hang
ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import faulthandler, json, sys, unittest
import concurrent.futures as cf
import poolwise
cf.ThreadPoolExecutor = poolwise.ThreadPoolExecutor
cf.ProcessPoolExecutor = poolwise.ProcessPoolExecutor


class Result(unittest.TextTestResult):
    def startTest(self, test):
        print("\nSTART " + test.id(), flush=True)  # (tests print without a newline)
        faulthandler.dump_traceback_later(LIMIT, exit=True)
        super().startTest(test)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)


def main(module):
    suite = unittest.defaultTestLoader.loadTestsFromName("test.test_concurrent_futures." + module)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=Result)
    r = runner.run(suite)
    bad = [(t.id(), "failed", tb.strip().splitlines()[-1]) for t, tb in r.failures]
    bad += [(t.id(), "error", tb.strip().splitlines()[-1]) for t, tb in r.errors]
    print("\nRESULT " + json.dumps({"run": r.testsRun, "skipped": len(r.skipped), "bad": bad}))


if __name__ == "__main__":
    main(sys.argv[1])
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}


def interpreter() -> str | None:
    """This interpreter or the project's 3.13 virtual environment (``make pytest313`` makes
    it), whichever ships the suite as a package and has poolwise's dependencies."""
    candidates = [sys.executable, str(ROOT / ".venv313" / "bin" / "python")]
    for exe in candidates:
        if not Path(exe).exists():
            continue
        probe = subprocess.run(
            [exe, "-c", "import test.test_concurrent_futures.test_wait, poolwise, cloudpickle"],
            capture_output=True,
            env=_env(),
        )
        if probe.returncode == 0:
            return exe
    return None


def run_module(exe: str, module: str, workdir: Path) -> dict[str, Any]:
    script = workdir / "dropin_child.py"
    script.write_text(CHILD.replace("LIMIT", str(TEST_LIMIT)))
    env = _env()
    t0 = time.perf_counter()
    done = subprocess.run(
        [exe, str(script), module],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=TEST_LIMIT * 20,
    )
    seconds = time.perf_counter() - t0
    result = next(
        (json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")),
        None,
    )
    if result is None:  # a hang (faulthandler ended it) or a crash: the test it was in
        started = [line[6:] for line in done.stdout.splitlines() if line.startswith("START ")]
        last = started[-1] if started else "(before the first test)"
        return {
            "module": module,
            "tests": len(started),
            "passed": None,
            "finished": False,
            "seconds": round(seconds, 1),
            "bad": [[last, "did not finish", f"exit status {done.returncode}"]],
            "stderr": done.stderr[-3000:],
        }
    bad = result["bad"]
    return {
        "module": module,
        "tests": result["run"],
        "passed": result["run"] - result["skipped"] - len(bad),
        "skipped": result["skipped"],
        "finished": True,
        "seconds": round(seconds, 1),
        "bad": bad,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    exe = interpreter()
    if exe is None:
        return [{"module": "(no interpreter here ships test.test_concurrent_futures)"}]
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for module in MODULES:
            rows.append(run_module(exe, module, Path(tmp)))
    total = sum(r["tests"] - r.get("skipped", 0) for r in rows)
    passed = sum(r["passed"] or 0 for r in rows)
    out = [
        {k: v for k, v in r.items() if k not in ("bad", "stderr")} | {"failing": len(r["bad"])}
        for r in rows
    ]
    out.append(
        {
            "module": f"ALL ({Path(exe).parent.parent.name})",
            "tests": total,
            "passed": passed,
            "finished": all(r["finished"] for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "failing": total - passed,
        }
    )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "dropin_failing.json").write_text(
        json.dumps({r["module"]: r["bad"] for r in rows}, indent=2)
    )
    return out


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(TITLE, run(quick="--quick" in sys.argv))
