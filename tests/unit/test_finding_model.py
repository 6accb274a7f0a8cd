"""One Finding model: report.json, Locust's IPC and incident.json hold a finding in the one shape
`Finding.to_json` gives, and reading any of them back gives the very same finding (equal, same
hash, same key), every field included."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.models import (
    CanaryKind,
    Exposure,
    Finding,
    Severity,
    Step,
    Surface,
    SurfaceKind,
    Verdict,
)
from load.findings_io import FindingsFile, FindingsTail
from reports.incident import Incident, write_incident
from reports.json_report import load_report, write_json
from reports.redact import Redactor, redact_finding
from reports.result import FindingRecord, RunResult

FULL = Finding(
    check="canary",
    kind="canary-leak",
    severity=Severity.CRITICAL,
    message="p1's consultation note reached p2",
    observer="p2",
    surface=Surface(SurfaceKind.MEDIA, "GET /api/recordings/{id}/media"),
    step="switch/p2/look",
    time=1_780_000_001.25,
    owner="p1",
    canary_kind=CanaryKind.NOTE,
    evidence="...[canary]...",
    suite="switch@seed=3",
    extra=(("label", "consultation note"), ("shot", "shots/a.png")),
    repro=(Step("p1", "join", "0"), Step("p2", "look")),
)
EXPOSURE = Exposure(
    owner="p1",
    observer="p2",
    what=("consultation note",),
    surfaces=("media:GET /api/recordings/{id}/media",),
    first_seen=1_780_000_001.25,
    last_seen=1_780_000_009.5,
    findings=3,
)


def test_the_sample_sets_every_field_so_every_field_is_round_tripped() -> None:
    defaults = Finding("c", "k", Severity.LOW, "m", "o", Surface(SurfaceKind.OTHER, ""), "s", 0.0)
    unset = [
        f.name
        for f in dataclasses.fields(Finding)
        if getattr(FULL, f.name) == getattr(defaults, f.name)
    ]
    assert unset == []


def test_to_json_and_back_is_the_same_finding() -> None:
    data = json.loads(json.dumps(FULL.to_json()))
    back = Finding.from_json(data)
    assert back == FULL and hash(back) == hash(FULL) and back.key == FULL.key
    assert {f.name for f in dataclasses.fields(Finding)} | {"key"} == set(data)
    assert data["surface"] == {"kind": "media", "where": "GET /api/recordings/{id}/media"}
    assert data["repro"] == [
        {"actor": "p1", "action": "join", "arg": "0"},
        {"actor": "p2", "action": "look", "arg": ""},
    ]


def test_the_dedup_key_is_the_one_earlier_versions_wrote() -> None:
    """Keys are in report.json, acceptances and case references: they must not move."""
    assert FULL.key == "e72a7425b46b8d30"
    assert dataclasses.replace(FULL, suite="switch", time=5.0).key == FULL.key


def test_findings_hash_and_compare_by_value() -> None:
    twin = Finding.from_json(FULL.to_json())
    assert {FULL, twin} == {FULL} and {FULL: 1}[twin] == 1
    later = dataclasses.replace(FULL, time=FULL.time + 1)
    assert later != FULL and later.key == FULL.key


def test_a_canary_kind_stays_what_it_was_given() -> None:
    assert FULL.canary_kind is CanaryKind.NOTE
    custom = dataclasses.replace(FULL, canary_kind="iban")
    assert Finding.from_json(custom.to_json()).canary_kind == "iban"


def test_a_finding_with_a_severity_nobody_knows_cannot_be_made() -> None:
    with pytest.raises(ValidationError):
        Finding.from_json({**FULL.to_json(), "severity": "catastrophic"})


def test_a_key_in_the_data_is_recomputed_not_trusted() -> None:
    assert Finding.from_json({**FULL.to_json(), "key": "0" * 16}).key == FULL.key


def _run(record: FindingRecord) -> RunResult:
    return RunResult(
        run_id="r1",
        target="http://127.0.0.1:8000",
        build="b1",
        seed=1,
        suites_requested=("switch",),
        suites=(),
        cases=(),
        findings=(record,),
        exposures=(EXPOSURE,),
        errors=(),
        interrupted=False,
        run_finished=True,
        started=1.0,
        finished=2.0,
        verdict=Verdict.FAIL,
    )


def test_report_json_holds_the_findings_own_shape_and_reads_it_back(tmp_path: Path) -> None:
    record = FindingRecord(FULL, 3, 1_780_000_001.25, 1_780_000_009.5, "known", "2027-01-01")
    path = write_json(_run(record), tmp_path / "report.json")
    [written] = json.loads(path.read_text())["findings"]
    assert {k: written[k] for k in FULL.to_json()} == json.loads(json.dumps(FULL.to_json()))
    assert (written["occurrences"], written["accepted_until"]) == (3, "2027-01-01")
    loaded = load_report(path)
    assert loaded.findings == (record,) and hash(loaded.findings[0].finding) == hash(FULL)
    assert loaded.exposures == (EXPOSURE,)


def test_locust_ipc_hands_over_the_same_finding(tmp_path: Path) -> None:
    out = FindingsFile(tmp_path / "findings-worker-0.jsonl")
    out.write([FULL.to_json()])
    out.close()
    assert FindingsTail(tmp_path).read_new() == [FULL]


def test_incident_json_holds_the_findings_own_shape(tmp_path: Path) -> None:
    at = datetime.fromtimestamp(1_780_000_010, UTC)
    incident = Incident(
        flag="video-switch",
        env="development",
        backend="local",
        target="http://127.0.0.1:8000",
        round=1,
        rollout_at_detection=25,
        enabled_at=None,
        enabled_source=None,
        detected_at=at,
        disabled_at=at,
        disable_error="",
        reason="leak",
        exposures=[],
        findings=[FULL],
    )
    json_path, _ = write_incident(incident, tmp_path)
    [written] = json.loads(json_path.read_text())["findings"]
    assert written == json.loads(json.dumps(FULL.to_json()))
    assert Finding.from_json(written) == FULL


def test_masking_a_finding_rekeys_it_from_its_masked_surface() -> None:
    secret = dataclasses.replace(FULL, surface=Surface(SurfaceKind.JSON, "GET /x?token=hunter2"))
    masked = redact_finding(secret, Redactor(["hunter2", "consultation note"]))
    assert "hunter2" not in json.dumps(masked.to_json())
    assert "consultation note" not in json.dumps(masked.to_json())
    assert masked.key == Finding.from_json(masked.to_json()).key != secret.key
