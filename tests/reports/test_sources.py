"""Reads by source and the routes found outside the profile and the OpenAPI document: summed
over suites, kept in report.json (and read back), printed on the console and in the HTML."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from harness.coverage import Coverage, CoverageRow
from harness.events import CoverageReported, Event
from reports.console import ConsoleReporter
from reports.html import write_html
from reports.json_report import load_report, write_json
from reports.result import RunCollector
from tests.reports.streams import failing_run

ROW = CoverageRow("switch", "GET /profile/{id}/summary", "p1", "p1", 3, 0)
# A read's request shapes: the owner's, then the access suite's repeats as other users.
SHAPES = (
    CoverageRow("switch", "GET /x (variant: accept)", "p1", "p1", 4, 0),
    CoverageRow("access", "GET /x (variant: accept)", "c1", "p1", 4, 0),
    CoverageRow("access", "GET /x (variant: accept)", "p2", "p1", 3, 1),
    CoverageRow("switch", "GET /x (variant: slash)", "p1", "p1", 1, 0),
)


def _events() -> list[Event]:
    events = failing_run()
    reported = [
        CoverageReported(
            "switch",
            (ROW, SHAPES[0], SHAPES[3]),
            sources=(("profile", 10), ("crawl", 3)),
            found=(("GET /profile/{id}/summary", "crawl"),),
        ),
        CoverageReported(
            "access",
            SHAPES[1:3],
            sources=(("profile", 2), ("har", 1)),
            found=(("GET /x", "har"),),
            bounds=(("crawl_cut", 5), ("crawl_refused", 2)),
        ),
    ]
    return [*events[:-1], *reported, events[-1]]


def test_sources_are_summed_and_routes_kept_in_report_json(tmp_path: Path) -> None:
    result = RunCollector().consume(_events())
    assert result.sources == {"crawl": 3, "har": 1, "profile": 12}
    assert result.found == {"GET /profile/{id}/summary": "crawl", "GET /x": "har"}
    path = write_json(result, tmp_path / "report.json")
    coverage = json.loads(path.read_text())["coverage"]
    assert coverage["reads_by_source"] == {"crawl": 3, "har": 1, "profile": 12}
    assert coverage["discovered_routes"]["GET /x"] == "har"
    assert coverage["bounds"] == {"crawl_cut": 5, "crawl_refused": 2}
    assert load_report(path) == result


def test_console_and_html_list_them(tmp_path: Path) -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=200, color_system=None), plain=True)
    for event in _events():
        reporter.handle(event)
    reporter.summary(reporter.collector.result(), {})
    text = out.getvalue()
    assert "reads by source: crawl 3, har 1, profile 12" in text
    assert "GET /profile/{id}/summary (crawl), GET /x (har)" in text
    assert "crawl: 5 link(s) left unread at its bounds" in text
    shapes = "accept 11 checked (7 by other users), 1 lost; slash 1 checked (0 by other users)"
    assert f"request-shape variants: {shapes}" in text
    html = write_html(reporter.collector.result(), tmp_path / "report.html").read_text()
    assert "Reads by source: crawl 3, har 1, profile 12." in html
    assert "<code>GET /profile/{id}/summary</code> (crawl)" in html
    assert f"Request-shape variants: {shapes}." in html
    coverage = json.loads(write_json(reporter.collector.result(), tmp_path / "r.json").read_text())
    assert coverage["coverage"]["variants"]["accept"] == {
        "checked": 11,
        "by_other_users": 7,
        "lost": 1,
    }
    # and from report.json alone, as `chaperone report` rebuilds the HTML
    path = write_json(reporter.collector.result(), tmp_path / "report.json")
    rebuilt = write_html(load_report(path), tmp_path / "again.html").read_text()
    assert f"Request-shape variants: {shapes}." in rebuilt


def test_coverage_counts_sources_per_suite_and_keeps_the_first_source() -> None:
    coverage = Coverage()
    coverage.suite = "switch"
    coverage.read_from("crawl", 2)
    coverage.found("GET /a", "crawl")
    coverage.suite = "access"
    coverage.read_from("crawl")
    coverage.found("GET /a", "har")
    assert coverage.sources("switch") == {"crawl": 2}
    assert coverage.sources() == {"crawl": 3}
    assert coverage.found_routes() == {"GET /a": "crawl"}
