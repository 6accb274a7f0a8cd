"""Every depth: heavy owners in the population, lists walked to their end (offset, cursor, Link,
JSON, page), a walk stopped at its page bound counted as lost coverage, and how deep each list
and export went in the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.canaries import OwnershipModel, Visibility
from harness.client import ProfileClient, Send, Session, read
from harness.config import RunOptions
from harness.coverage import CoverageRow, ListDepth
from harness.errors import UsageError
from harness.events import CoverageReported, FindingRaised, RunFinished
from harness.models import Actor, Observation, Verdict
from harness.population import Counts, counts_for, make_population
from harness.profile import load_profile
from harness.profile.model import ReadSpec, TargetProfile
from harness.world import World
from reports.console import ConsoleReporter
from reports.html import write_html
from reports.json_report import load_report, write_json
from reports.result import RunCollector
from tests.reports.streams import end, start, suite_ok
from tests.unit.fakeapp import PROFILE
from tests.unit.inprocess import run_inprocess
from tests.unit.test_client import Script, _lost, _obs

CLINIC = load_profile("clinic").profile
VAMPI = load_profile("examples/targets/vampi.yaml").profile
ALICE = Actor("p1", "user", "Alice", {"username": "alice", "password": "pw", "id": 1})
NOTES = {"note": {"lists": ["GET /notes"], "owner": {"field": "/owner_id", "var": "id"}}}


# -- heavy owners --------------------------------------------------------------------------


def test_heavy_owners_are_the_last_users_of_each_role_whose_data_a_list_shows() -> None:
    pop = make_population(CLINIC, 0, counts_for(CLINIC, {"patient": 4, "clinician": 2}))
    patients = pop.of_role("patient")
    assert pop.heavy == (patients[-1].id,)  # clinicians only observe: none of them
    heavy, light = patients[-1].id, patients[0].id
    kinds = {"appointment", "recording"}
    counts = {
        (k, o): sum(1 for r in pop.resources if (r.kind, r.owner) == (k, o))
        for k in kinds
        for o in (heavy, light)
    }
    # past a batch of 100 and past 3 pages of the largest declared page size (25)
    assert CLINIC.heavy_rows() == 101
    assert counts == {
        ("appointment", heavy): 101,
        ("recording", heavy): 101,  # count 0: only heavy owners get an archive
        ("appointment", light): CLINIC.resources["appointment"].count,
        ("recording", light): 0,
    }


def test_a_run_sets_how_many_heavy_owners_and_zero_turns_them_off() -> None:
    two = make_population(CLINIC, 0, counts_for(CLINIC, {"patient": 4, "heavy": 2}))
    assert two.heavy == tuple(p.id for p in two.of_role("patient")[-2:])
    none = make_population(CLINIC, 0, counts_for(CLINIC, {"heavy": 0}))
    assert none.heavy == ()
    assert not [r for r in none.resources if r.kind == "recording"]
    with pytest.raises(UsageError, match="heavy owners are a few"):
        counts_for(CLINIC, {"heavy": 11})


def test_a_small_world_keeps_an_archive_only_kind_empty() -> None:
    pop = make_population(CLINIC, 0, Counts(owners=2, observers=1, per_owner=3, heavy=0))
    assert {r.kind for r in pop.resources} == {"appointment"}


def test_rows_cross_three_pages_of_the_largest_declared_page_size() -> None:
    doc = {**PROFILE, "entities": NOTES}
    doc["reads"] = [{"get": "/notes?per_page=60", "page": {"next": "link-header", "size": 60}}]
    assert TargetProfile.model_validate(doc).heavy_rows() == 181
    doc["heavy"] = {"rows": 7}
    assert TargetProfile.model_validate(doc).heavy_rows() == 7


def test_a_profile_without_owned_lists_has_no_heavy_owner() -> None:
    # VAmPI lists books to everyone by design and pages nothing: no list to walk past page 3
    assert VAMPI.list_owner_roles() == []
    assert make_population(VAMPI, 0, counts_for(VAMPI, {})).heavy == ()


def test_the_world_file_keeps_its_heavy_owners(tmp_path: Path) -> None:
    world = World("http://t", 1, {"p1": ALICE}, OwnershipModel((), Visibility()), heavy=("p1",))
    world.save(tmp_path / "world.json")
    assert World.load(tmp_path / "world.json").heavy == ("p1",)


# -- lists walked to the end ---------------------------------------------------------------


def _client(**changes: Any) -> ProfileClient:
    client = ProfileClient(TargetProfile.model_validate({**PROFILE, "entities": NOTES, **changes}))
    client.variant_reads = 0
    client.world_changed(World("http://t", 1, {"p1": ALICE}, OwnershipModel((), Visibility())))
    return client


def _offset_answer(total: int, limit: int) -> Callable[[Send], Observation]:
    def answer(send: Send) -> Observation:
        path = send.prepared.path
        offset = int(path.rsplit("offset=", 1)[1]) if "offset=" in path else 0
        items = [{"id": f"n{i}", "owner_id": 1} for i in range(offset, min(offset + limit, total))]
        return _obs(send, 200, {"items": items})

    return answer


def test_an_offset_list_is_walked_past_three_pages_to_its_first_empty_page() -> None:
    client = _client()
    script = Script(client, _offset_answer(total=7, limit=2))
    spec = ReadSpec.model_validate(
        {"get": "/notes?limit=2", "page": {"next": "offset", "param": "offset"}}
    )
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    paths = [s[0] for s in script.sent]
    assert paths[-1] == "GET /notes?limit=2&offset=7"  # the empty page that ends it
    assert len(seen) == 5
    depth = client.coverage.depths()["GET /notes"]
    assert (depth.pages, depth.rows, depth.end) == (5, 7, True)


def _cursor_answer(pages: int) -> Callable[[Send], Observation]:
    def answer(send: Send) -> Observation:
        path = send.prepared.path
        number = int(path.rsplit("=", 1)[1]) if "cursor=" in path else 1
        items = [{"id": f"n{number}-{i}", "owner_id": 1} for i in range(3)]
        more = str(number + 1) if number < pages else None
        return _obs(send, 200, {"items": items, "next_cursor": more})

    return answer


def _link_answer(pages: int) -> Callable[[Send], Observation]:
    def answer(send: Send) -> Observation:
        path = send.prepared.path
        number = int(path.rsplit("=", 1)[1]) if "page=" in path else 1
        link = {"link": f'<http://t/notes?page={number + 1}>; rel="next"'} if number < pages else {}
        return _obs(send, 200, [{"id": f"n{number}", "owner_id": 1}], **link)

    return answer


@pytest.mark.parametrize(
    ("answer", "page", "items", "rows"),
    [
        (_cursor_answer(6), {"next": "cursor", "param": "cursor"}, "/items", 18),
        (_link_answer(6), {"next": "link-header"}, "", 6),
    ],
)
def test_cursor_and_link_lists_are_walked_to_their_last_page_and_their_depth_recorded(
    answer: Callable[[Send], Observation], page: dict[str, Any], items: str, rows: int
) -> None:
    entities = {"note": {**NOTES["note"], "items": items}}
    client = _client(entities=entities)
    script = Script(client, answer)
    spec = ReadSpec.model_validate({"get": "/notes", "page": page})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert [o.endpoint for o in seen][-1] == "GET /notes (page 6)"
    assert _lost(client.coverage.rows()) == {}
    assert client.coverage.depths()["GET /notes"] == ListDepth("GET /notes", 6, rows, 1, 0)


def test_a_walk_stopped_at_its_bound_is_lost_coverage_and_not_the_end() -> None:
    client = _client()
    script = Script(client, _link_answer(1000))
    spec = ReadSpec.model_validate(
        {"get": "/notes", "page": {"next": "link-header", "max_pages": 4}}
    )
    script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert _lost(client.coverage.rows()) == {"GET /notes": ("page bound reached (4 pages)",)}
    depth = client.coverage.depths()["GET /notes"]
    assert (depth.pages, depth.capped, depth.end) == (4, 1, False)
    # a later walk that ends does not make the list's depth clean
    client.coverage.walked("GET /notes", 2, 2, True)
    merged = client.coverage.depths()["GET /notes"]
    assert (merged.pages, merged.walks, merged.end) == (4, 2, False)


def test_an_export_is_read_whole_and_its_rows_counted() -> None:
    client = _client()
    csv = "id,name\r\n" + "".join(f"{i},row {i}\r\n" for i in range(150))

    def answer(send: Send) -> Observation:
        return replace(_obs(send, 200, csv.encode()), content_type="text/csv; charset=utf-8")

    script = Script(client, answer)
    spec = ReadSpec.model_validate({"get": "/notes/export.csv"})
    script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    depth = client.coverage.depths()["GET /notes/export.csv"]
    assert (depth.pages, depth.rows, depth.end) == (1, 150, True)


# -- the report says how deep --------------------------------------------------------------


def _run_with_depth() -> list[Any]:
    depth = (
        ListDepth("GET /api/items", 11, 103, 4, 0),
        ListDepth("GET /api/feed", 50, 500, 2, 1),
    )
    return [
        start("switch"),
        *suite_ok("switch")[:-1],
        CoverageReported(
            "switch", (CoverageRow("switch", "GET /api/items", "p1", "p1", 4, 0),), depth=depth
        ),
        suite_ok("switch")[-1],
        end(),
    ]


def test_the_report_says_how_deep_each_list_went(tmp_path: Path) -> None:
    result = RunCollector().consume(_run_with_depth())
    path = write_json(result, tmp_path / "report.json")
    doc = json.loads(path.read_text())["coverage"]["depth"]
    assert doc["GET /api/items"] == {"pages": 11, "rows": 103, "walks": 4, "capped": 0, "end": True}
    assert doc["GET /api/feed"]["end"] is False
    assert load_report(path).depth == result.depth
    html = write_html(result, tmp_path / "report.html").read_text()
    assert "List depth" in html and "GET /api/items 11 pages 103 rows (end)" in html


def test_the_console_prints_one_depth_line() -> None:
    console = Console(record=True, width=300)
    reporter = ConsoleReporter(console=console)
    for event in _run_with_depth():
        reporter.handle(event)
    reporter.close()
    reporter.summary(reporter.collector.result())
    text = console.export_text()
    line = next(x for x in text.splitlines() if x.startswith("list depth: "))
    assert "GET /api/items 11 pages 103 rows (end)" in line
    assert (
        "GET /api/feed 50 pages 500 rows (NOT the end: 1 walk(s) stopped at the page bound)" in line
    )


# -- against the real clinic, in process ---------------------------------------------------


def _inprocess(tmp: Path, fault: str, population: dict[str, int]) -> tuple[list[Any], World]:
    options = RunOptions(suites=("switch",), scenarios=("switch-mid-call",), population=population)
    tmp.mkdir()
    events = run_inprocess(tmp, options, frozenset({fault}))
    return events, World.load(tmp / "out" / "world.json")


@pytest.mark.parametrize("fault", ["deep-page-leak", "export-batch-unscoped"])
def test_a_leak_past_page_two_or_row_100_is_found_only_with_heavy_owners(
    fault: str, tmp_path: Path
) -> None:
    sizes = {"patient": 3, "clinician": 2}
    events, world = _inprocess(tmp_path / "light", fault, {**sizes, "heavy": 0})
    assert world.heavy == ()
    assert not [e for e in events if isinstance(e, FindingRaised)], "the old harness saw it?"
    assert isinstance(events[-1], RunFinished) and events[-1].verdict is Verdict.PASS
    events, world = _inprocess(tmp_path / "heavy", fault, sizes)
    (heavy,) = world.heavy
    leaks = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert leaks and all(f.observer == heavy and f.owner != heavy for f in leaks)
    # seeded in bulk: each archived recording and appointment has its own server id
    archive = world.resources_of(heavy, "recording")
    assert len(archive) == 101 and len({r.vars["id"] for r in archive}) == 101
    calls = {r.vars["consultation_id"] for r in world.resources_of(heavy, "appointment")}
    assert len(calls) == 101
