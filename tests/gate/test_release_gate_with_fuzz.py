"""The release gate as shipped (flags/policies/video-switch.yaml, fuzz required, 20 patients,
4 clinicians, 3 seeds), end to end through `chaperone gate` on the bundled clinic, both ways:

- the clean clinic passes from five first seeds (so fuzz, which runs on the first seed, runs
  on five): exit 0, no finding, no error, every required suite passed. A gate of the clean
  clinic with fuzz once failed on a notification stateful's own world had sent, judged by
  fuzz's warm-up in the run's world (tests/integration/test_detection.py has the narrow
  reproduction);
- a planted fault still fails it: the write answered with another user's record and the
  incident's own misattribution.

Each gate takes minutes on 2 cores, so these are slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flags.keys import SIGNING_KEY_ENV, new_signing_key
from flags.policy import DEFAULT_POLICY, load_policy

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
KEY = new_signing_key().pem().decode()


def release_gate(out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    argv = [sys.executable, "-m", "chaperone", "gate", "--build", "t", "--out", str(out), *args]
    env = {**os.environ, SIGNING_KEY_ENV: KEY}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1400)
    report = out / "report.json"
    found = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, found, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_release_policy_requires_fuzz() -> None:
    assert "fuzz" in load_policy(DEFAULT_POLICY).required_suites


# Seed 0 runs in CI (`nox -s tests`); the other first seeds are the `proof` run
# (`nox -s proofs`): each gate takes minutes on 2 cores and CI must stay under 45.
PROOF = pytest.mark.proof


@pytest.mark.parametrize("seed", [0, *(pytest.param(seed, marks=PROOF) for seed in (3, 6, 9, 12))])
def test_the_clean_clinic_passes_the_release_gate_with_fuzz(seed: int, tmp_path: Path) -> None:
    code, report, output = release_gate(tmp_path / "gate", "--seed", str(seed))
    assert code == 0, output
    assert report["verdict"] == "pass"
    assert not report["findings"], [f["message"] for f in report["findings"][:5]]
    assert not report["errors"], report["errors"]
    fuzz = report["suites"]["fuzz"]
    assert fuzz["verdict"] == "pass", fuzz["message"]
    assert fuzz["metrics"]["requests"] > 100, fuzz["metrics"]


# Both are proof runs: in CI the fault is caught by test_detection's targeted run, and a
# failing release gate by test_demo's faulty build; a whole gate costs minutes on 2 cores.
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("write-echoes-other-user", marks=PROOF),
        pytest.param("switch-recording-misattribution", marks=PROOF),
    ],
)
def test_a_faulty_build_fails_the_release_gate_with_fuzz(fault: str, tmp_path: Path) -> None:
    code, report, output = release_gate(tmp_path / "gate", "--faults", fault)
    assert code == 1, output
    assert report["verdict"] == "fail"
    assert report["exposures"], output
    assert not report["errors"], report["errors"]
