"""Fail closed, end to end: each of these ends with the flag off and exit 2 or 1, never 0.
The real `chaperone gate` runs in a subprocess against a real clinic subprocess."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from harness.local_clinic import local_clinic
from tests.flags.conftest import write_policy

pytestmark = pytest.mark.integration
KEY = new_signing_key().pem().decode()
SECRET = "support-token-must-not-leak"


def verdict_result(path: Path) -> str:
    statement = json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))
    return str(statement["predicate"]["result"])


def gate(tmp_path: Path, *args: str, token: str = SECRET) -> subprocess.Popen[str]:
    env = {**os.environ, "CHAPERONE_GATE_SIGNING_KEY": KEY, "CHAPERONE_SUPPORT_TOKEN": token}
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
        "--policy",
        str(write_policy(tmp_path / "policy")),
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
    assert verdict_result(tmp_path / "out" / "verdict.json") == "error"
    assert SECRET not in out


def test_gate_that_times_out(tmp_path: Path) -> None:
    code, out = finish(gate(tmp_path, "--timeout", "2"))
    assert code == 2, out[-3000:]
    assert "timed out" in out
    assert flag_is_off(tmp_path)


def test_sigint_mid_gate(tmp_path: Path) -> None:
    proc = gate(tmp_path)
    _clinic_url(proc, [])  # the local clinic is up and the run has started (however loaded
    time.sleep(2)  # the machine is), and the first suite is running
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


def _clinic_url(proc: subprocess.Popen[str], lines: list[str]) -> str:
    """Reads the gate's output until it names the local clinic it started."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        found = re.search(r"against (http://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)
    raise AssertionError("the gate never named its clinic:\n" + "".join(lines))


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_gate_leaves_no_clinic_and_no_verdict(tmp_path: Path, signum: int) -> None:
    """L6: the local clinic dies with the gate (kill -9 included), and a re-run killed in the
    same --out leaves no earlier pass verdict behind for `flags enable`."""
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "verdict.json"
    stale.write_text('{"an": "old pass verdict"}')
    lines: list[str] = []
    proc = gate(tmp_path)
    url = _clinic_url(proc, lines)
    assert _answers(url)
    assert not stale.exists()  # discarded before the first request
    proc.send_signal(signum)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _answers(url), "the local clinic outlived the gate"
    # Nothing, or (SIGTERM unwinds like Ctrl-C) a freshly signed `error` verdict.
    assert not stale.exists() or verdict_result(stale) == "error"
    assert flag_is_off(tmp_path)
