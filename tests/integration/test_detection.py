"""The harness's proof, both ways, against the real clinic (a uvicorn subprocess on SQLite),
through the real `chaperone run` command:

- every planted fault is found, with exit code 1, a `fail` report and exposures, by the suite
  and scenario where it shows (targeted, so all of them fit in CI; `chaperone selftest` runs
  the full matrix);
- the clean clinic stays silent across seeds, with every scenario of the switch suite, the
  access matrix and (on the first seeds) the stateful suite;
- the fault that leaks to exactly one other patient is found by the access matrix at the
  release policy's size (20 patients, 4 clinicians) within its 3 seeds.

`switch-race` only shows under concurrency; tests/load proves the load suite catches it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clinic.faults import MID_CALL, PAGED
from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import EngineError, FindingRaised, RunFinished, StepFinished
from harness.local_clinic import local_clinic
from harness.models import Verdict
from harness.profile import load_profile
from harness.sinks import clinic_wiring, sinks_for

pytestmark = pytest.mark.integration

# fault -> (suites, scenarios): where each fault shows. Mid-call faults show on the first
# scenario; the relation faults on their own scenario; page 2 needs more than 10 recordings.
TARGETED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "switch-recording-misattribution": (("switch",), MID_CALL),
    "recordings-unscoped-after-switch": (("switch",), MID_CALL),
    "recording-idor": (("access",), MID_CALL),
    "profile-cache-shared": (("switch",), MID_CALL),
    "clinician-scope-leak": (("switch",), MID_CALL),
    "media-token-unbound": (("access",), MID_CALL),
    "appointments-leak-on-rejoin": (("switch",), ("rejoin-after-switch",)),
    "list-scope-lost-after-first-page": (("switch",), PAGED),
    # past page 2, past row 100: only a heavy owner's lists are that long
    "deep-page-leak": (("switch",), MID_CALL),
    "export-batch-unscoped": (("switch",), MID_CALL),
    "transfer-keeps-old-access": (("switch",), ("patient-transferred",)),
    "discharge-keeps-access": (("switch",), ("care-ended",)),
    "consent-withdrawal-ignored": (("switch",), ("consent-withdrawn",)),
    "deleted-recording-still-listed": (("switch",), ("recording-deleted",)),
    "ws-events-broadcast": (("switch",), MID_CALL),
    "mail-wrong-recipient": (("switch",), MID_CALL),
    "sms-wrong-recipient": (("switch",), MID_CALL),
    "export-unscoped": (("switch",), MID_CALL),
    "search-unscoped": (("switch",), MID_CALL),
    "whole-file-download-leak": (("access",), MID_CALL),
    "ranged-media-cache-leak": (("access",), MID_CALL),
    # a page linked from the profile and absent from OpenAPI: only the crawl reaches it
    "undocumented-route-leak": (("switch", "access"), MID_CALL),
    # only a forged credential shows it: the access suite's impersonation
    "forged-identity-accepted": (("switch", "access"), MID_CALL),
    # only a write sent as others shows it: `replay: as-others` in the clinic profile
    "write-echoes-other-user": (("switch", "access"), MID_CALL),
    # only a decoding oracle shows them: a JWT's claims, a PDF's properties
    "encoded-token-leak": (("switch", "access"), MID_CALL),
    "document-metadata-leak": (("switch", "access"), MID_CALL),
}
# The surface each fault must show on (the exposure table names it).
SURFACE = {
    "ws-events-broadcast": "ws:",
    "mail-wrong-recipient": "mail:",
    "sms-wrong-recipient": "sms:",
    "export-unscoped": "csv:",
    "list-scope-lost-after-first-page": "(page ",
    "deep-page-leak": "(page ",
    "export-batch-unscoped": "csv:",
}
# Leaks nothing shows in clear: every finding names the decoding that reached the canary.
DECODED = {"encoded-token-leak": {"jwt"}, "document-metadata-leak": {"pdf:info", "pdf:xmp"}}


def chaperone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )


def run_targeted(fault: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    suites, scenarios = TARGETED[fault]
    args = ["run", "--faults", fault, "--patients", "3", "--clinicians", "2", "--out", str(out)]
    args += [f"--suite={s}" for s in suites] + [f"--scenario={s}" for s in scenarios]
    done = chaperone(*args, *extra)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return done.returncode, report, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_catalog_fault_but_the_concurrency_ones_is_targeted() -> None:
    from clinic.faults import FAULTS

    # The media faults need real calls (--media real): tests/media proves them.
    elsewhere = {
        "switch-race",
        "recording-idor-neighbour",
        "media-preroll-shared",
        "media-tracks-crossed",
    }
    untested = set(FAULTS) - set(TARGETED) - elsewhere
    assert not untested, f"add a targeted detection for {sorted(untested)}"


@pytest.mark.parametrize("fault", sorted(TARGETED))
def test_each_fault_is_found_where_it_shows(fault: str, tmp_path: Path) -> None:
    code, report, output = run_targeted(fault, tmp_path / "out")
    assert code == 1, output
    assert report["verdict"] == "fail"
    assert report["findings"], "a fail verdict must come with findings"
    assert report["exposures"], "every fault here leaks one user's data to another"
    assert not report["errors"], report["errors"]
    assert "Traceback" not in output
    # Triage: one planted bug is one line, two at most (issue 27), its counts adding up.
    causes = report["causes"]
    assert 1 <= len(causes) <= 2, [c["title"] for c in causes]
    assert sum(c["count"] for c in causes) == len(report["findings"])
    surface = SURFACE.get(fault)
    if surface is not None:
        seen = {s for e in report["exposures"] for s in e["surfaces"]}
        assert any(surface in s for s in seen), sorted(seen)
    if fault in DECODED:
        encodings = {dict(f["extra"]).get("encoding", "") for f in report["findings"]}
        assert encodings and encodings <= DECODED[fault], encodings


@pytest.mark.parametrize("fault", ["deep-page-leak", "export-batch-unscoped"])
def test_a_deep_leak_needs_heavy_owners(fault: str, tmp_path: Path) -> None:
    """The harness before heavy owners (`--population heavy=0`) passes these builds: no
    synthetic user has a third page of recordings or a 101st row of export. With them (the
    default), the lists are walked to their end and the report says how deep each went."""
    code, report, output = run_targeted(fault, tmp_path / "light", "--population", "heavy=0")
    assert code == 0, output
    assert report["verdict"] == "pass"
    depth = report["coverage"]["depth"]
    assert depth["GET /api/me/recordings"]["pages"] < 3
    assert depth["GET /api/me/recordings/export.csv"]["rows"] <= 100
    code, report, output = run_targeted(fault, tmp_path / "heavy")
    assert code == 1, output
    depth = report["coverage"]["depth"]
    assert depth["GET /api/me/recordings"]["pages"] >= 3
    assert depth["GET /api/me/recordings"]["end"]
    assert depth["GET /api/me/recordings/export.csv"]["rows"] > 100
    assert "list depth: " in output


@pytest.fixture(scope="module")
def clean_clinic() -> Any:
    profile = load_profile("clinic")
    with sinks_for(profile.profile) as sinks, local_clinic(extra_args=clinic_wiring(sinks)) as c:
        yield c, sinks


@pytest.mark.parametrize("seed", range(3))
def test_clean_clinic_is_silent(seed: int, clean_clinic: Any, tmp_path: Path) -> None:
    clinic, sinks = clean_clinic
    suites = ("switch", "access", "stateful") if seed == 0 else ("switch", "access")
    # Ten stateful examples here; the demo's clean gate (in CI too) runs thirty.
    options = RunOptions(
        suites=suites, population={"patient": 3, "clinician": 2}, seed=seed, stateful_examples=10
    )
    request = RunRequest(clinic.url, options, tmp_path, clinic.support_token, sinks=sinks)
    events = list(run(request))
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert not errors
    assert not findings, [f.message for f in findings[:5]]
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS


def test_notifications_of_an_earlier_world_are_never_judged_in_a_later_one(
    clean_clinic: Any, tmp_path: Path
) -> None:
    """Stateful seeds small worlds of its own and never collects their mail. Its small
    world plants in p0's appointment reason the canary token the run's world puts in p2's
    name, so its "recording ready" mail to p0, judged by the next suite that collects
    notifications under the run's world, read as p2's name mailed to p0: two critical false
    leaks on the clean clinic (the release gate with fuzz failed on them)."""
    clinic, sinks = clean_clinic
    options = RunOptions(
        suites=("stateful", "switch"),
        scenarios=("look-around",),
        population={"patient": 3, "clinician": 2},
        seed=0,
        stateful_examples=10,
    )
    request = RunRequest(clinic.url, options, tmp_path, clinic.support_token, sinks=sinks)
    events = list(run(request))
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert not findings, [f"{f.step}: {f.message}" for f in findings[:5]]
    assert not [e.message for e in events if isinstance(e, EngineError)]
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS


@pytest.mark.parametrize("fault", ["switch-recording-misattribution", None])
def test_casts_under_several_seeds_keep_the_switch_suite_honest(
    tmp_path: Path, fault: str | None
) -> None:
    """Under two seeds, 8 patients play each scenario in casts of 4 (scenarios.cast): the
    2020 misattribution is still found, the clean clinic stays silent, and over the two seeds
    every patient joined, switched and ended a call."""
    faults = (fault,) if fault else ()
    with local_clinic(faults) as clinic:
        options = RunOptions(
            suites=("switch",),
            scenarios=MID_CALL,
            population={"patient": 8, "clinician": 2},
            extra_seeds=(1,),
        )
        events = list(run(RunRequest(clinic.url, options, tmp_path, clinic.support_token)))
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert not errors
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    players = {
        e.actor.split("-", 1)[0]
        for e in events
        if isinstance(e, StepFinished) and e.step.endswith("/switch_to_video")
    }
    assert players == {f"p{i}" for i in range(8)}
    per_seed = [
        {
            e.actor
            for e in events
            if isinstance(e, StepFinished) and e.step.endswith("/join") and e.suite == suite
        }
        for suite in ("switch", "switch@seed=1")
    ]
    assert [len(p) for p in per_seed] == [4, 4], "each seed plays a cast of 4, not everyone"
    if fault:
        assert any(f.owner != f.observer for f in findings), "the misfiled recording was missed"
    else:
        assert not findings, [f.message for f in findings[:5]]


def test_a_leak_to_exactly_one_other_patient_is_found_at_release_size(tmp_path: Path) -> None:
    """recording-idor-neighbour: only the patient whose id follows the owner's can read the
    owner's recording metadata. The access matrix samples observers; at 20 patients and 4
    clinicians, over the release policy's 3 seeds, it must meet that one pair."""
    fault = "recording-idor-neighbour"
    with local_clinic((fault,)) as clinic:
        options = RunOptions(
            suites=("access",),
            scenarios=MID_CALL,
            population={"patient": 20, "clinician": 4},
            seed=0,
            extra_seeds=(1, 2),
        )
        request = RunRequest(clinic.url, options, tmp_path, clinic.support_token)
        events = list(run(request))
    leaks = [
        e.finding
        for e in events
        if isinstance(e, FindingRaised)
        and e.finding.owner
        and e.finding.owner != e.finding.observer
    ]
    assert leaks, "the neighbour's read of the owner's recording was never sampled"
    assert {f.surface.where for f in leaks} == {"GET /api/recordings/{recording_id}"}
    # exactly one observer per owner, and it is another patient
    pairs = {(f.owner, f.observer) for f in leaks}
    owners = [o for o, _ in pairs]
    assert len(owners) == len(set(owners))
    assert all(observer.startswith("p") for _, observer in pairs)
