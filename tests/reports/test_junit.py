from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.events import EngineError, Interrupted
from reports.junit import write_junit
from reports.result import RunCollector
from tests.reports.streams import T0, end, failing_run, passing_run, start, suite_ok, two_causes_run


def parse(tmp_path: Path, events) -> ET.Element:
    path = write_junit(RunCollector().consume(events), tmp_path / "junit.xml")
    return ET.parse(path).getroot()


def counts(element: ET.Element) -> tuple[int, int, int]:
    return int(element.get("tests")), int(element.get("failures")), int(element.get("errors"))


def test_passing_run(tmp_path: Path) -> None:
    root = parse(tmp_path, passing_run())
    assert root.tag == "testsuites"
    assert [s.get("name") for s in root] == ["switch", "access"]
    assert counts(root) == (2, 0, 0)
    assert all(counts(s) == (1, 0, 0) for s in root)


def test_failing_case_carries_finding_messages(tmp_path: Path) -> None:
    root = parse(tmp_path, failing_run())
    switch = root.find("testsuite[@name='switch']")
    assert counts(switch) == (2, 1, 0)
    failure = switch.find("testcase[@name='switch-p2']/failure")
    assert failure is not None and "p1's note reached p2" in failure.text
    assert "root cause(s)" in failure.text
    assert float(switch.get("time")) == 5.0


def test_one_failing_case_per_root_cause(tmp_path: Path) -> None:
    result = RunCollector().consume(two_causes_run())
    root = parse(tmp_path, two_causes_run())
    causes = root.find("testsuite[@name='findings']")
    assert causes is not None
    # two leaked objects first shown at two steps: two causes, one failing case each
    assert counts(causes) == (2, 2, 0)
    assert len(result.findings) == 2
    texts = [c.find("failure").text for c in causes]
    assert all("shortest reproduction:" in t and "exposures:" in t for t in texts)
    names = sorted(c.get("name") for c in causes)
    assert any("appointment" in n and "access/replay" in n for n in names)
    assert any("own record" in n for n in names)
    # the two scenario cases and the two causes
    assert counts(root) == (4, 4, 0)


def test_one_bug_flooding_two_owners_is_one_failing_case(tmp_path: Path) -> None:
    causes = parse(tmp_path, failing_run()).find("testsuite[@name='findings']")
    assert causes is not None and counts(causes) == (1, 1, 0)


def test_errors_get_their_own_testcases(tmp_path: Path) -> None:
    events = [
        start("switch", "load"),
        *suite_ok("switch"),
        EngineError("switch", "database went away", T0 + 3),
        EngineError("", "adapter crashed", T0 + 4),
        Interrupted(T0 + 5),
        end(),
    ]
    root = parse(tmp_path, events)
    switch = root.find("testsuite[@name='switch']")
    assert counts(switch) == (2, 0, 1)
    assert "database went away" in switch.find("testcase/error").text
    load = root.find("testsuite[@name='load']")
    assert counts(load) == (1, 0, 1)  # requested, never ran
    run = root.find("testsuite[@name='chaperone']")
    assert {c.get("name") for c in run} == {"engine error", "interrupted"}
    assert counts(root) == (5, 0, 4)


def test_no_events_is_an_error_not_an_empty_green_file(tmp_path: Path) -> None:
    root = parse(tmp_path, [])
    assert counts(root)[2] >= 1
