"""A Ctrl-C'd gate exits 2, every time: 50 real `python -m chaperone gate` processes, each sent
SIGINT at a seeded random moment of its first seconds (the engine importing its adapter and
suites, seeding, the first suite).

It used to exit -2 (killed by SIGINT) about once in twenty runs, after printing its error
verdict: a Ctrl-C that landed while a dataclass was being built (exec() of a string) left
CPython's "unhandled KeyboardInterrupt" note set, and `-m` turns that note into SIGINT on the
way out (chaperone.cli._forget_caught_interrupt). To stay cheap, one clinic serves every run,
and the policy asks for a small population and one seed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from harness.local_clinic import local_clinic
from tests.flags.conftest import write_policy

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# CI interrupts 10 gates at random moments; `nox -s proofs` 50 (each costs a gate start-up).
RUNS_CI, RUNS_PROOF = 10, 50
# The suites only make the run outlast the window; none of them finishes in it.
SUITES = ["switch", "access", "stateful"]
WINDOW = (0.0, 2.5)  # seconds after the run's first line
KEY = new_signing_key().pem().decode()


def _gate(tmp: Path, policy: Path, url: str, token: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CHAPERONE_GATE_SIGNING_KEY": KEY, "CHAPERONE_SUPPORT_TOKEN": token}
    argv = [
        sys.executable,
        "-m",
        "chaperone",
        "gate",
        "--build",
        "b1",
        "--target",
        url,
        "--out",
        str(tmp / "out"),
        "--enable",
        "--backend",
        "local",
        "--state",
        str(tmp / "flags-state.json"),
        "--policy",
        str(policy),
    ]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _started(proc: subprocess.Popen[str], lines: list[str]) -> None:
    """Reads the gate's output until the run's first line (the engine is starting)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if not line or " against http://127.0.0.1:" in line:
            return
    raise AssertionError("the gate never started its run:\n" + "".join(lines))


@pytest.mark.parametrize("runs", [RUNS_CI, pytest.param(RUNS_PROOF, marks=pytest.mark.proof)])
def test_a_ctrl_c_d_gate_exits_2_every_time(tmp_path: Path, runs: int) -> None:
    rng = random.Random(23)
    policy = write_policy(
        tmp_path / "policy",
        required_suites=SUITES,
        min_population={"patient": 2, "clinician": 1},
        min_seeds=1,
    )
    codes: list[int] = []
    with local_clinic() as clinic:
        for run in range(runs):
            tmp = tmp_path / f"run-{run}"
            lines: list[str] = []
            proc = _gate(tmp, policy, clinic.url, clinic.support_token)
            _started(proc, lines)
            delay = rng.uniform(*WINDOW)
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=120)
            codes.append(proc.returncode)
            shown = "".join(lines) + out
            assert proc.returncode == 2, f"run {run} (SIGINT after {delay:.2f} s):\n{shown[-3000:]}"
            backend = LocalBackend(tmp / "flags-state.json", None)
            assert not backend.status("video-switch", "development").enabled
    assert codes == [2] * runs
