"""The harness's proof, both ways, against the real clinic (a uvicorn subprocess on SQLite):

- the default suites (switch, access, stateful) find each of the 7 deterministic planted faults
  through the real `chaperone run` command, with exit code 1 and a `fail` report;
- the same suites stay silent on the clean clinic across 20 seeds.

`switch-race` only shows under concurrency; tests/load proves the load suite catches it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import EngineError, FindingRaised, RunFinished
from harness.local_clinic import LocalClinic, local_clinic
from harness.models import Verdict

pytestmark = pytest.mark.integration

DETERMINISTIC_FAULTS = [
    "switch-recording-misattribution",
    "recordings-unscoped-after-switch",
    "recording-idor",
    "profile-cache-shared",
    "clinician-scope-leak",
    "media-token-unbound",
    "appointments-leak-on-rejoin",
]


def chaperone(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("fault", DETERMINISTIC_FAULTS)
def test_default_run_finds_each_fault(fault: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = chaperone("run", "--faults", fault, "--patients", "4", "--out", str(out))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] == "fail"
    assert report["findings"], "a fail verdict must come with findings"
    assert report["exposures"], "every fault here leaks one patient's data to another user"
    assert not report["errors"]
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def clean_clinic() -> LocalClinic:
    with local_clinic() as clinic:
        yield clinic  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(20))
def test_clean_clinic_is_silent(seed: int, clean_clinic: LocalClinic, tmp_path: Path) -> None:
    suites = ("switch", "access", "stateful") if seed < 3 else ("switch", "access")
    options = RunOptions(suites=suites, patients=4, clinicians=2, seed=seed)
    request = RunRequest(clean_clinic.url, options, tmp_path, clean_clinic.support_token)
    events = list(run(request))
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert not errors
    assert not findings, [f.message for f in findings[:5]]
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS
