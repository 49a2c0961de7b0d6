"""Opening a report in headless Chromium: its DOM, a screenshot and its console errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render(page: Path, tmp: Path, *, height: int = 2000) -> tuple[str, Path, list[str]]:
    """(the DOM after load, a screenshot, console errors); skips where Chromium is absent."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (make test installs it with apt-get when it can)")
    flags = [*FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}"]
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp / f"{page.stem}.png"
    log = subprocess.run(
        [
            exe,
            *flags,
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            f"--window-size=1100,{height}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    errors = [ln for ln in log.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln]
    return dom.stdout, shot, errors
