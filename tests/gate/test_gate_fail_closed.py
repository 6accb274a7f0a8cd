"""Fail closed, end to end: each of these ends with the flag off and exit 2 or 1, never 0.
The real `chaperone gate` runs in a subprocess against a real clinic subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flags.backends.local import LocalBackend
from harness.local_clinic import local_clinic

pytestmark = pytest.mark.integration
KEY = "gate-test-key"
SECRET = "support-token-must-not-leak"


def gate(tmp_path: Path, *args: str, token: str = SECRET) -> subprocess.Popen[str]:
    env = {**os.environ, "CHAPERONE_GATE_KEY": KEY, "CHAPERONE_SUPPORT_TOKEN": token}
    argv = [
        sys.executable,
        "-m",
        "chaperone",
        "gate",
        "--build",
        "b1",
        "--out",
        str(tmp_path / "out"),
        "--enable",
        "--env",
        "development",
        "--backend",
        "local",
        "--state",
        str(tmp_path / "flags-state.json"),
        *args,
    ]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def flag_is_off(tmp_path: Path) -> bool:
    backend = LocalBackend(tmp_path / "flags-state.json", None)
    return not backend.status("video-switch", "development").enabled


def finish(proc: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_target_down(tmp_path: Path) -> None:
    code, out = finish(gate(tmp_path, "--target", "http://127.0.0.1:9"))
    assert code == 2, out
    assert flag_is_off(tmp_path)
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["verdict"] == "error"
    assert SECRET not in out


def test_gate_that_times_out(tmp_path: Path) -> None:
    code, out = finish(gate(tmp_path, "--timeout", "2"))
    assert code == 2, out[-3000:]
    assert "timed out" in out
    assert flag_is_off(tmp_path)


def test_sigint_mid_gate(tmp_path: Path) -> None:
    proc = gate(tmp_path)
    time.sleep(12)  # the local clinic is up and the first suite is running
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc, timeout=120)
    assert code == 2, out[-3000:]
    assert flag_is_off(tmp_path)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "error"


def test_target_dies_mid_gate(tmp_path: Path) -> None:
    with local_clinic() as clinic:
        proc = gate(tmp_path, "--target", clinic.url, token=clinic.support_token)
        time.sleep(8)
        clinic.process.kill()
        code, out = finish(proc)
    assert code == 2, out[-3000:]
    assert flag_is_off(tmp_path)
    assert clinic.support_token not in out
