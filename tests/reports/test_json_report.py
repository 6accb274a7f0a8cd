from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, ExitCode
from harness.models import Verdict
from reports.json_report import SCHEMA_VERSION, load_report, report_schema, write_json
from reports.result import RunCollector
from tests.reports.streams import failing_run, two_causes_run


@pytest.fixture
def result():
    return RunCollector().consume(failing_run())


def test_round_trip(tmp_path: Path, result) -> None:
    path = write_json(result, tmp_path / "report.json")
    assert load_report(path) == result


def test_document_fields(tmp_path: Path, result) -> None:
    doc = json.loads(write_json(result, tmp_path / "report.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["verdict"] == "fail"
    assert doc["seed"] == 7
    assert doc["timings"] == {"suites": {"switch": 5.0, "access": 2.0}, "total": 10.0}
    assert set(doc["suites"]) == {"switch", "access"}
    first = doc["findings"][0]
    assert first["occurrences"] == 2
    assert first["key"] == result.findings[0].key
    assert first["repro"] == [
        {"actor": "p1", "action": "join", "arg": ""},
        {"actor": "p2", "action": "switch", "arg": "video"},
    ]
    assert first["severity"] == "critical" and first["surface"]["kind"] == "json"
    assert [(e["owner"], e["observer"]) for e in doc["exposures"]] == [("p1", "p2"), ("p3", "p2")]
    assert doc["errors"] == [] and "metrics" in doc
    assert "properties" in report_schema()


def test_causes_cover_every_finding_once(tmp_path: Path) -> None:
    result = RunCollector().consume(two_causes_run())
    doc = json.loads(write_json(result, tmp_path / "report.json").read_text())
    causes = doc["causes"]
    assert [c["suite"] for c in causes] == ["switch", "access"]
    assert sum(c["count"] for c in causes) == len(doc["findings"]) == 2
    assert sorted(k for c in causes for k in c["findings"]) == sorted(
        f["key"] for f in doc["findings"]
    )
    access = causes[1]
    assert access["objects"] == ["appointment"] and access["example"] == "appointment:p3:0"
    assert access["step"] == "access/replay" and access["surfaces"] == [
        "json:GET /api/recordings/{id}"
    ]
    assert load_report(tmp_path / "report.json") == result  # causes are never read back


def test_metrics_that_json_cannot_hold_are_written_as_text(tmp_path: Path) -> None:
    from tests.reports.streams import end, start, suite_ok

    events = [
        start("load"),
        *suite_ok("load", metrics={"p95_ms": 12.5, "where": Path("/x")}),
        end(),
    ]
    result = RunCollector().consume(events)
    loaded = load_report(write_json(result, tmp_path / "r.json"))
    assert loaded.suite("load").metrics == {"p95_ms": 12.5, "where": "/x"}


def test_secrets_are_masked_before_writing(tmp_path: Path, result) -> None:
    text = write_json(result, tmp_path / "report.json", secrets=["p1's note"]).read_text()
    assert "p1's note" not in text and "[REDACTED]" in text
    # case references follow the (unchanged here) keys
    assert load_report(tmp_path / "report.json").verdict is Verdict.FAIL


def test_no_temporary_files_left(tmp_path: Path, result) -> None:
    write_json(result, tmp_path / "report.json")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON (line 1"),
        ("[]", "is not a Chaperone report: top level"),
        ('{"schema_version": 1, "verdict": "maybe"}', "is not a Chaperone report: verdict"),
        ('{"schema_version": 99}', "schema_version 99"),
    ],
)
def test_bad_report_is_a_one_line_config_error(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_report(path)
    message = str(info.value)
    assert expected in message and str(path) in message
    assert "\n" not in message
    assert info.value.exit_code is ExitCode.ERROR
