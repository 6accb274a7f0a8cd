"""The in-worker leak check: observations from raw responses, judged with the harness's Judge and
its profile-driven list parsing, each finding reported once; findings and coverage as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from harness.coverage import Coverage
from harness.models import Finding, Observation
from load.checker import LeakChecker, observation_of
from load.findings_io import (
    FindingsFile,
    FindingsTail,
    read_coverage,
    row_from_json,
    row_to_json,
    write_coverage,
)
from tests.load.worlds import clinic_profile, memory_world, of_role

WORLD = memory_world()
PATIENTS = of_role(WORLD, "patient")
RECORDINGS = "GET /api/me/recordings"


def _canary(owner: str, kind: str = "note") -> str:
    return next(c.value for c in WORLD.ownership.for_owner(owner) if c.kind == kind)


def _list(actor: str, owner: str, status: int = 200, endpoint: str = RECORDINGS) -> Observation:
    item = {"id": 1, "patient_id": WORLD.actors[owner].vars["id"], "title": "video recording"}
    return observation_of(
        actor=actor,
        step=f"load/{actor}/{endpoint}",
        endpoint=endpoint,
        method="GET",
        url="http://127.0.0.1:9/api/me/recordings?per_page=100",
        status=status,
        headers=[("content-type", "application/json")],
        body=json.dumps({"items": [item], "total": 1}).encode(),
        elapsed=0.01,
    )


def _page(actor: str, text: str) -> Observation:
    return observation_of(
        actor=actor,
        step=f"load/{actor}/GET /profile",
        endpoint="GET /profile",
        method="GET",
        url="/profile",
        status=200,
        headers=[("content-type", "text/html")],
        body=f"<p>{text}</p>".encode(),
        elapsed=0.01,
    )


def test_another_patients_data_is_a_finding_reported_once() -> None:
    checker = LeakChecker.for_world(WORLD)
    observer, owner = PATIENTS[0], PATIENTS[1]
    first = checker.check(_page(observer, _canary(owner)))
    again = checker.check(_page(observer, _canary(owner)))
    assert {(f.kind, f.owner, f.observer) for f in first} == {("canary-leak", owner, observer)}
    assert again == []
    assert checker.checked == 2


def test_own_data_is_not_a_finding() -> None:
    checker = LeakChecker.for_world(WORLD)
    assert checker.check(_page(PATIENTS[0], _canary(PATIENTS[0]))) == []
    assert checker.check(_list(PATIENTS[0], PATIENTS[0])) == []


def test_the_related_clinician_may_see_the_patient() -> None:
    patient = PATIENTS[0]
    [clinician] = WORLD.ownership.visibility.related("care", patient)
    other = next(c for c in of_role(WORLD, "clinician") if c != clinician)
    checker = LeakChecker.for_world(WORLD)
    assert checker.check(_page(clinician, _canary(patient))) == []
    assert {f.owner for f in checker.check(_page(other, _canary(patient)))} == {patient}


def test_lists_are_read_with_the_profiles_entities() -> None:
    """A foreign item in a list is caught from the profile's `entities:`, not from a copy of
    the clinic's routes inside the load package."""
    checker = LeakChecker.for_world(WORLD)
    found = checker.check(_list(PATIENTS[0], PATIENTS[2]))
    assert {(f.kind, f.owner) for f in found} == {("foreign-recording", PATIENTS[2])}
    assert checker.check(_list(PATIENTS[0], PATIENTS[3], status=500)) != []  # a 5xx is judged
    assert checker.entities is not None
    assert checker.entities.listing(_list(PATIENTS[0], PATIENTS[1], status=500)) is None

    # The same response under a route the profile does not list is not a list at all ...
    renamed = "GET /api/me/files"
    assert (
        LeakChecker.for_world(WORLD).check(_list(PATIENTS[0], PATIENTS[2], endpoint=renamed)) == []
    )
    # ... until the profile says it is.
    profile = clinic_profile()
    entities = dict(profile.entities)
    entities["recording"] = entities["recording"].model_copy(update={"lists": [renamed]})
    moved = memory_world(profile=profile.model_copy(update={"entities": entities}))
    observer = of_role(moved, "patient")[0]
    other = of_role(moved, "patient")[2]
    obs = observation_of(
        actor=observer,
        step="s",
        endpoint=renamed,
        method="GET",
        url="/api/me/files",
        status=200,
        headers=[("content-type", "application/json")],
        body=json.dumps(
            {"items": [{"id": 5, "patient_id": moved.actors[other].vars["id"]}]}
        ).encode(),
        elapsed=0.0,
    )
    assert {f.owner for f in LeakChecker.for_world(moved).check(obs)} == {other}


def test_observation_keeps_path_query_range_and_whose_data() -> None:
    obs = observation_of(
        actor="p0",
        step="load/p0/media",
        endpoint="GET /api/recordings/{recording_id}/media",
        method="GET",
        url="http://127.0.0.1:8000/api/recordings/3/media?token=abc",
        status=206,
        headers=[
            ("Content-Range", "bytes 0-63/6400"),
            ("Content-Type", "application/octet-stream"),
        ],
        body=b"x" * 64,
        elapsed=0.002,
        about="p1",
    )
    assert obs.url == "/api/recordings/3/media?token=abc"
    assert obs.byte_range == (0, 63)
    assert obs.content_type == "application/octet-stream"
    assert obs.about == "p1"
    own = observation_of(
        actor="p0",
        step="s",
        endpoint="e",
        method="GET",
        url="/x",
        status=200,
        headers=(),
        body=b"",
        elapsed=0.0,
        about="p0",
    )
    assert own.about == "" and own.byte_range is None


def test_findings_file_and_tail_hand_over_complete_lines(tmp_path: Path) -> None:
    checker = LeakChecker.for_world(WORLD)
    [finding] = checker.check(_page(PATIENTS[0], _canary(PATIENTS[1])))
    out = FindingsFile(tmp_path / "findings-worker-0.jsonl")
    out.write([finding.to_json()])
    out.close()
    tail = FindingsTail(tmp_path)
    [back] = tail.read_new()
    assert back == finding and back.key == finding.key
    partial = json.dumps(finding.to_json())
    with (tmp_path / "findings-worker-1.jsonl").open("w") as handle:
        handle.write(partial[:20])
    assert tail.read_new() == []
    with (tmp_path / "findings-worker-1.jsonl").open("a") as handle:
        handle.write(partial[20:] + "\n")
    assert [f.key for f in tail.read_new()] == [finding.key]
    assert Finding.from_json(finding.to_json()) == finding


def test_coverage_rows_travel_as_json_and_add_up(tmp_path: Path) -> None:
    worker = Coverage()
    worker.checked(RECORDINGS, "p0", "p0")
    worker.lost(RECORDINGS, "p0", "p0", "HTTP 503")
    worker.lost("GET /profile", "p1", "p1", "no answer")
    sent = [row_to_json(r) for r in worker.rows()]
    master = Coverage()
    master.absorb(row_from_json(json.loads(json.dumps(r))) for r in sent)
    master.absorb(row_from_json(r) for r in sent)  # a second increment from another flush
    write_coverage(tmp_path, master)
    rows = {(r.route, r.observer): r for r in read_coverage(tmp_path, "load")}
    assert rows[(RECORDINGS, "p0")].checked == 2
    assert rows[(RECORDINGS, "p0")].lost == 2
    assert rows[(RECORDINGS, "p0")].reasons == (("HTTP 503", 2),)
    assert rows[("GET /profile", "p1")].suite == "load"
    assert read_coverage(tmp_path / "none", "load") == []
