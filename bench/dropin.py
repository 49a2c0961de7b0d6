"""The standard library's own tests for ``concurrent.futures``, run against poolwise's drop-in
classes (issue 17).

Each module of ``test.test_concurrent_futures`` runs in a child interpreter of its own, with
``concurrent.futures.ThreadPoolExecutor`` and ``ProcessPoolExecutor`` replaced by poolwise's
before the suite is imported. A test that runs longer than ``TEST_LIMIT`` seconds is a hang:
the child dumps every stack and exits, the test counts as failed ("did not finish"), and a new
child runs the tests of the module not yet started. The suite
ships with the interpreter (3.13's layout, a package of modules; pyenv's 3.11 here has no
``test`` package), so this runs it with the project's 3.13 environment unless this one has it.

``python -m bench dropin`` (``make dropin``) prints a row per module and saves the failing
tests with their last line (``bench/results/dropin_failing.json``).
"""

from __future__ import annotations

import json
import os
import signal
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


def _tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _tests(t)
        else:
            yield t


def main(module, skipfile):
    skip = set(open(skipfile).read().split())
    suite = unittest.defaultTestLoader.loadTestsFromName("test.test_concurrent_futures." + module)
    suite = unittest.TestSuite(t for t in _tests(suite) if t.id() not in skip)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=Result)
    r = runner.run(suite)
    bad = [(t.id(), "failed", tb.strip().splitlines()[-1]) for t, tb in r.failures]
    bad += [(t.id(), "error", tb.strip().splitlines()[-1]) for t, tb in r.errors]
    print("\nRESULT " + json.dumps({"run": r.testsRun, "skipped": len(r.skipped), "bad": bad}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
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


def _child(exe: str, module: str, workdir: Path, skip: set[str]) -> tuple[int, str, str]:
    """Run the module's tests not in ``skip`` in a child; (status, stdout, stderr)."""
    script = workdir / "dropin_child.py"
    script.write_text(CHILD.replace("LIMIT", str(TEST_LIMIT)))
    skipfile = workdir / f"{module}.skip"
    skipfile.write_text("\n".join(sorted(skip)))
    out_path, err_path = workdir / f"{module}.out", workdir / f"{module}.err"
    # files, not pipes: a process the suite leaves behind (a forkserver, a manager) must not
    # keep us waiting; the child leads a session of its own, killed whole at the end
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [exe, str(script), module, str(skipfile)],
            stdout=out,
            stderr=err,
            env=_env(),
            cwd=workdir,
            start_new_session=True,
        )
        try:
            returncode = proc.wait(timeout=TEST_LIMIT * 20)
        except subprocess.TimeoutExpired:
            returncode = -9
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
    return returncode, out_path.read_text(), err_path.read_text()


def run_module(exe: str, module: str, workdir: Path) -> dict[str, Any]:
    """Every test of the module; after a hang, a new child runs the tests not yet started
    (the hung one counts as failed, "did not finish")."""
    t0 = time.perf_counter()
    skip: set[str] = set()
    run = skipped = 0
    bad: list[list[str]] = []
    hung: list[str] = []
    while True:
        status, stdout, stderr = _child(exe, module, workdir, skip)
        lines = stdout.splitlines()
        result = next((json.loads(x[7:]) for x in lines if x.startswith("RESULT ")), None)
        if result is not None:
            run += result["run"]
            skipped += result["skipped"]
            bad += result["bad"]
            break
        started = [x[6:] for x in lines if x.startswith("START ")]
        if not started:  # (it failed before its first test: nothing more to learn)
            bad.append([module, "did not start", stderr.strip().splitlines()[-1:]])
            break
        bad.append([started[-1], "did not finish", f"exit status {status}"])
        hung.append(stderr[-3000:])
        run += len(started)
        skip.update(started)
    return {
        "module": module,
        "tests": run,
        "passed": run - skipped - len(bad),
        "skipped": skipped,
        "finished": not hung,
        "seconds": round(time.perf_counter() - t0, 1),
        "bad": bad,
        "stderr": "\n".join(hung),
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
