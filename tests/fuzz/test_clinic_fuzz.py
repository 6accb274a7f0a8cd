"""The fuzz suite alone against the real clinic (a uvicorn subprocess on SQLite), both ways:

- each planted fault that shows in a single request once owned data exists: the fuzz suite
  alone catches it, from Schemathesis's own requests (not only the warm-up that makes the data
  exist); each row is printed (run with -s). Every other fault's row is the selftest's fuzz
  column;
- the clean clinic over 5 seeds (seed 0 in CI): no finding, no error, a pass;
- the time limit stops Schemathesis and says so;
- the notifications its traffic causes are judged in its own world.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clinic.faults import FAULTS
from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import (
    CaseFinished,
    CoverageReported,
    EngineError,
    FindingRaised,
    RunFinished,
    SuiteFinished,
)
from harness.local_clinic import LocalClinic, local_clinic
from harness.models import Verdict
from harness.profile import load_profile
from harness.sinks import clinic_wiring, sinks_for

pytestmark = pytest.mark.integration

# Visible in one request once the data exists: a list, a recording, a media range.
SINGLE_REQUEST = {  # a subset of the clinic's catalog
    "switch-recording-misattribution",
    "recordings-unscoped-after-switch",
    "recording-idor",
    "clinician-scope-leak",
    "media-token-unbound",
}


def test_the_single_request_faults_are_in_the_catalog() -> None:
    assert set(FAULTS) >= SINGLE_REQUEST


def chaperone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )


def _row(fault: str, report: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The fault's matrix row. The report keeps the first record of each leak, so which
    traffic found what comes from the suite's metrics."""
    metrics = report["suites"]["fuzz"]["metrics"]
    fuzz = [f for f in report["findings"] if f["suite"] == "fuzz" and f["kind"] != "contract"]
    return {
        "fault": fault,
        "findings": len(fuzz),
        "from_schemathesis_traffic": metrics["leaks_from_schemathesis"],
        "from_warm_up": metrics["leaks_from_warm_up"],
        "surfaces": sorted({f"{f['surface']['kind']}:{f['surface']['where']}" for f in fuzz}),
        "requests": metrics["requests"],
        "verdict": report["verdict"],
        "suite_seconds": round(report["suites"]["fuzz"]["seconds"], 1),
        "seconds": round(seconds, 1),
    }


# The faults that show in one request, where the fuzz suite alone must catch them. Its row for
# every other fault (found or not, never an error) is the selftest's fuzz column, which runs
# every fault; repeating that here would cost CI eight minutes and prove nothing new.
# CI runs the incident's own fault and the plainest IDOR; the others are proof runs.
IN_CI = {"switch-recording-misattribution", "recording-idor"}


@pytest.mark.parametrize(
    "fault",
    [f if f in IN_CI else pytest.param(f, marks=pytest.mark.proof) for f in sorted(SINGLE_REQUEST)],
)
def test_fuzz_alone_on_each_single_request_fault(fault: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = time.time()
    done = chaperone(
        "run", "--suite", "fuzz", "--faults", fault, "--patients", "3",
        "--fuzz-examples", "10", "--out", str(out),
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    row = _row(fault, report, time.time() - started)
    print("FUZZ-MATRIX", json.dumps(row))
    assert "Traceback" not in done.stderr
    assert not report["errors"], report["errors"]
    assert report["verdict"] in ("pass", "fail")
    assert done.returncode == 1, done.stdout[-2000:]
    assert row["from_schemathesis_traffic"] > 0, row
    assert report["exposures"]
    # a leak first seen in Schemathesis's traffic is reproduced by its curl command, with the
    # credentials redacted (one first seen in the warm-up's look ends with that look)
    fuzz = [f for f in report["findings"] if f["suite"] == "fuzz" and f["kind"] != "contract"]
    curls = [f["repro"][-1]["arg"] for f in fuzz if f["repro"][-1]["action"] == "request"]
    assert curls or row["from_warm_up"], row
    assert all(c.startswith("curl ") and "<redacted>" in c for c in curls)


@pytest.fixture(scope="module")
def clean_clinic() -> Iterator[LocalClinic]:
    with local_clinic() as clinic:
        yield clinic


def _fuzz(clinic: LocalClinic, out: Path, **options: Any) -> list[Any]:
    fields = {"suites": ("fuzz",), "population": {"patient": 3, "clinician": 2}, **options}
    request = RunRequest(clinic.url, RunOptions(**fields), out, clinic.support_token)
    return list(run(request))


# Seed 0 in CI, seeds 1-4 in `nox -s proofs`.
@pytest.mark.parametrize(
    "seed", [0, *(pytest.param(s, marks=pytest.mark.proof) for s in range(1, 5))]
)
def test_clean_clinic_has_no_leak(clean_clinic: LocalClinic, tmp_path: Path, seed: int) -> None:
    events = _fuzz(clean_clinic, tmp_path / str(seed), seed=seed, fuzz_examples=3)
    errors = [e.message for e in events if isinstance(e, EngineError)]
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    suite = next(e for e in events if isinstance(e, SuiteFinished))
    assert not errors, (seed, errors)
    assert not findings, (seed, [f.message for f in findings[:5]])
    assert suite.metrics["requests"] > 100, suite.metrics  # it did fuzz
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS


def test_the_time_limit_stops_schemathesis(clean_clinic: LocalClinic, tmp_path: Path) -> None:
    # Far more examples than 12 s can send: with 50 a faster run once completed in time.
    events = _fuzz(clean_clinic, tmp_path, fuzz_seconds=12.0, fuzz_examples=2000)
    suite = next(e for e in events if isinstance(e, SuiteFinished))
    assert suite.metrics["stopped"] == "time limit", suite.metrics
    assert suite.seconds < 12.0 + 20.0  # the case in flight finishes, nothing more
    # an operation the run never reached is an error, never a pass
    cases = [e for e in events if isinstance(e, CaseFinished) and e.name.split(" ")[0].isupper()]
    unreached = [c for c in cases if c.verdict is Verdict.ERROR]
    assert all("not reached" in c.message for c in unreached), [c.message for c in unreached]
    assert (suite.verdict is Verdict.ERROR) == bool(unreached)
    # every actor whose examples pass the limit cut left every operation unasked as them:
    # lost coverage, never clean
    cut = suite.metrics["passes_cut"]
    assert cut > 0 and suite.metrics["passes_done"] + cut == suite.metrics["passes"]
    rows = [r for e in events if isinstance(e, CoverageReported) for r in e.rows]
    reasons = {reason for r in rows if r.suite == "fuzz" for reason, _ in r.reasons}
    # the generative pass comes last and is cut first; any examples pass cut is lost coverage
    examples_cut = cut - 1
    assert ("fuzz time limit: examples not sent" in reasons) == (examples_cut > 0), reasons


def test_the_notifications_fuzz_traffic_causes_are_judged_in_its_own_world(
    tmp_path: Path,
) -> None:
    """The calls the generated requests end mail "recording ready": fuzz judges that mail
    before the next seeding forgets it, and it carries no false leak on the clean clinic."""
    profile = load_profile("clinic")
    with (
        sinks_for(profile.profile) as sinks,
        local_clinic(extra_args=clinic_wiring(sinks)) as clinic,
    ):
        options = RunOptions(
            suites=("fuzz",), population={"patient": 3, "clinician": 2}, fuzz_examples=3
        )
        events = list(
            run(RunRequest(clinic.url, options, tmp_path, clinic.support_token, sinks=sinks))
        )
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert not findings, [f"{f.step}: {f.message}" for f in findings[:5]]
    suite = next(e for e in events if isinstance(e, SuiteFinished))
    assert suite.metrics["notifications_judged"] > 0, suite.metrics
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS
