"""The standard library's own tests for ``concurrent.futures``, run against poolwise's drop-in
classes (issue 17).

Each module of ``test.test_concurrent_futures`` runs in a child interpreter of its own, with
``concurrent.futures.ThreadPoolExecutor`` and ``ProcessPoolExecutor`` replaced by poolwise's
before the suite is imported. A test that runs longer than ``TEST_LIMIT`` seconds is a hang:
the child dumps every stack and exits, the test counts as failed ("did not finish"), and a new
child runs the tests of the module not yet started. The suite
ships with the interpreter (3.13's layout, a package of modules; pyenv's 3.11 here has no
``test`` package), so this runs it with the project's 3.13 environment unless this one has it,
and with the 3.14 of ``make py314`` when its ``test`` package is there (``make dropin`` adds
it: Debian's ``libpython3.14-testsuite``, unpacked beside the interpreter). On 3.14
``InterpreterPoolExecutor`` is replaced too, and ``test_interpreter_pool`` runs.

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
if sys.version_info >= (3, 14):
    cf.InterpreterPoolExecutor = poolwise.InterpreterPoolExecutor


def say(*words):
    print("\n" + " ".join(words), flush=True)  # (tests print without a newline)


class Result(unittest.TextTestResult):
    # each test's outcome is said as it ends; every phase, a module's teardown too, is bounded
    def startTest(self, test):
        say("START", test.id())
        faulthandler.dump_traceback_later(LIMIT, exit=True)
        super().startTest(test)

    def stopTest(self, test):
        faulthandler.dump_traceback_later(LIMIT, exit=True)
        super().stopTest(test)

    def addSuccess(self, test):
        say("DONE", test.id(), "ok")
        super().addSuccess(test)

    def addSkip(self, test, reason):
        say("DONE", test.id(), "skipped")
        super().addSkip(test, reason)

    def addExpectedFailure(self, test, err):
        say("DONE", test.id(), "ok")
        super().addExpectedFailure(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        say("DONE", test.id(), "failed", json.dumps(self.failures[-1][1].strip().splitlines()[-1]))

    def addError(self, test, err):
        super().addError(test, err)
        say("DONE", test.id(), "error", json.dumps(self.errors[-1][1].strip().splitlines()[-1]))


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
    runner.run(suite)
    faulthandler.cancel_dump_traceback_later()
    say("END")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
"""


PY314 = ROOT / ".py314" / "root" / "usr" / "bin" / "python3.14"
SITE314 = ROOT / ".py314" / "site"


def _env(exe: str = "") -> dict[str, str]:
    paths = [str(ROOT / "src"), str(ROOT)]
    if exe == str(PY314):
        paths.insert(0, str(SITE314))  # (3.14's wheels, installed with --target)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _ships_the_suite(exe: str) -> bool:
    if not Path(exe).exists():
        return False
    probe = subprocess.run(
        [exe, "-c", "import test.test_concurrent_futures.test_wait, poolwise, cloudpickle"],
        capture_output=True,
        env=_env(exe),
    )
    return probe.returncode == 0


def interpreters() -> list[str]:
    """This interpreter or the project's 3.13 virtual environment (``make pytest313`` makes
    it), whichever ships the suite as a package and has poolwise's dependencies; and the 3.14
    of ``make py314`` when it has the suite."""
    found = [
        exe
        for exe in (sys.executable, str(ROOT / ".venv313" / "bin" / "python"))
        if _ships_the_suite(exe)
    ][:1]
    if str(PY314) not in found and _ships_the_suite(str(PY314)):
        found.append(str(PY314))
    return found


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
            env=_env(exe),
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


def _reason(text: str) -> str:
    """A failure's last line, as the child wrote it (JSON), or as it reached us when output of
    the test's own processes ran into it."""
    try:
        return str(json.loads(text))
    except ValueError:
        return text


def run_module(exe: str, module: str, workdir: Path) -> dict[str, Any]:
    """Every test of the module; after a hang, a new child runs the tests not yet started
    (the hung one counts as failed, "did not finish")."""
    t0 = time.perf_counter()
    skip: set[str] = set()
    outcomes: dict[str, tuple[str, str]] = {}
    hung: list[str] = []
    while True:
        status, stdout, stderr = _child(exe, module, workdir, skip)
        started = []
        ended = False
        for line in stdout.splitlines():
            words = line.split(" ", 3)
            if words[0] == "START":
                started.append(words[1])
            elif words[0] == "DONE":
                outcomes[words[1]] = (words[2], _reason(words[3]) if len(words) > 3 else "")
            elif words[0] == "END":
                ended = True
        lost = [t for t in started if t not in outcomes]
        for test in lost:
            outcomes[test] = ("did not finish", f"exit status {status}")
            hung.append(stderr[-3000:])
        if not started and not ended:  # (it failed before its first test)
            outcomes[module] = ("did not start", (stderr.strip().splitlines() or [""])[-1])
        skip.update(started)
        if ended or not started:
            break
    bad = [[t, kind, why] for t, (kind, why) in outcomes.items() if kind not in ("ok", "skipped")]
    skipped = sum(kind == "skipped" for kind, _ in outcomes.values())
    return {
        "module": module,
        "tests": len(outcomes),
        "passed": len(outcomes) - skipped - len(bad),
        "skipped": skipped,
        "finished": not hung,
        "seconds": round(time.perf_counter() - t0, 1),
        "bad": bad,
        "stderr": "\n".join(hung),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    found = interpreters()
    if not found:
        return [{"module": "(no interpreter here ships test.test_concurrent_futures)"}]
    out: list[dict[str, Any]] = []
    failing: dict[str, Any] = {}
    for exe in found:
        out += _run_suite(exe, failing)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "dropin_failing.json").write_text(json.dumps(failing, indent=2))
    return out


def _run_suite(exe: str, failing: dict[str, Any]) -> list[dict[str, Any]]:
    import tempfile

    version = subprocess.run(
        [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    modules = MODULES + (("test_interpreter_pool",) if version == "3.14" else ())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for module in modules:
            rows.append(run_module(exe, module, Path(tmp)))
    total = sum(r["tests"] - r.get("skipped", 0) for r in rows)
    passed = sum(r["passed"] or 0 for r in rows)
    out = [
        {"python": version}
        | {k: v for k, v in r.items() if k not in ("bad", "stderr")}
        | {"failing": len(r["bad"])}
        for r in rows
    ]
    out.append(
        {
            "python": version,
            "module": "ALL",
            "tests": total,
            "passed": passed,
            "finished": all(r["finished"] for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "failing": total - passed,
        }
    )
    failing.update({f"{version} {r['module']}": r["bad"] for r in rows})
    return out


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(TITLE, run(quick="--quick" in sys.argv))
