"""The in-worker leak check: observations from raw responses, judged, written once per finding."""

from __future__ import annotations

import json
from pathlib import Path

from harness.models import CanaryKind, Role
from harness.oracles import Judge
from load.checker import LeakChecker, listing_for, observation_of
from load.contract import ENV_CHECK, ENV_FINDINGS, ENV_WORLD
from load.findings_io import FindingsTail, finding_from_json, finding_to_json
from tests.load.worlds import memory_world

WORLD = memory_world()
PATIENTS = sorted(a.id for a in WORLD.patients)


def _canary(owner: str, kind: CanaryKind = CanaryKind.REASON) -> str:
    return next(c.value for c in WORLD.ownership.for_owner(owner) if c.kind is kind)


def _listing_obs(actor: str, owner: str, status: int = 200) -> object:
    body = {
        "items": [
            {"id": 1, "patient_id": WORLD.server_ids[owner], "title": f"video: {_canary(owner)}"}
        ]
    }
    return observation_of(
        actor=actor,
        endpoint="GET /api/me/recordings",
        method="GET",
        url="http://127.0.0.1:9/api/me/recordings?per_page=100",
        status=status,
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        elapsed=0.01,
    )


def _checker(tmp_path: Path) -> LeakChecker:
    judge = Judge.from_world(WORLD, listing=listing_for(WORLD), plugins=False)
    return LeakChecker(judge, tmp_path / "findings-1.jsonl")


def test_another_patients_canary_is_a_finding_written_once(tmp_path: Path) -> None:
    checker = _checker(tmp_path)
    observer, owner = PATIENTS[0], PATIENTS[1]
    first = checker.check(_listing_obs(observer, owner))  # type: ignore[arg-type]
    again = checker.check(_listing_obs(observer, owner))  # type: ignore[arg-type]
    checker.close()
    assert {f.owner for f in first} == {owner}
    assert {f.kind for f in first} >= {"canary-leak"}
    assert again == []
    lines = (tmp_path / "findings-1.jsonl").read_text().splitlines()
    assert len(lines) == len(first)
    assert finding_from_json(json.loads(lines[0])).key == first[0].key


def test_own_data_is_not_a_finding(tmp_path: Path) -> None:
    checker = _checker(tmp_path)
    assert checker.check(_listing_obs(PATIENTS[0], PATIENTS[0])) == []  # type: ignore[arg-type]
    assert not (tmp_path / "findings-1.jsonl").exists()


def test_assigned_clinician_may_see_the_patient(tmp_path: Path) -> None:
    clinician = next(a for a in WORLD.clinicians if a.role is Role.CLINICIAN)
    patient = sorted(clinician.assigned)[0]
    obs = _listing_obs(clinician.id, patient)
    assert _checker(tmp_path).check(obs) == []  # type: ignore[arg-type]


def test_listing_maps_patient_ids_to_actors() -> None:
    listing = listing_for(WORLD)(_listing_obs(PATIENTS[0], PATIENTS[2]))  # type: ignore[arg-type]
    assert listing is not None
    assert listing.kind == "recording"
    assert listing.owners == (PATIENTS[2],)
    assert listing_for(WORLD)(_listing_obs(PATIENTS[0], PATIENTS[2], status=500)) is None  # type: ignore[arg-type]


def test_observation_keeps_path_query_and_range() -> None:
    obs = observation_of(
        actor="p0",
        endpoint="GET /api/recordings/{id}/media",
        method="GET",
        url="http://127.0.0.1:8000/api/recordings/3/media?token=abc",
        status=206,
        headers=[
            ("Content-Range", "bytes 0-4095/6400"),
            ("Content-Type", "application/octet-stream"),
        ],
        body=b"x" * 4096,
        elapsed=0.002,
    )
    assert obs.url == "/api/recordings/3/media?token=abc"
    assert obs.byte_range == (0, 4095)
    assert obs.content_type == "application/octet-stream"


def test_from_env_honours_the_off_switch(tmp_path: Path) -> None:
    WORLD.save(tmp_path / "world.json")
    env = {ENV_WORLD: str(tmp_path / "world.json"), ENV_FINDINGS: str(tmp_path)}
    assert LeakChecker.from_env({**env, ENV_CHECK: "0"}) is None
    assert LeakChecker.from_env({}) is None
    assert isinstance(LeakChecker.from_env({**env, ENV_CHECK: "1"}), LeakChecker)


def test_tail_reads_only_complete_lines(tmp_path: Path) -> None:
    checker = _checker(tmp_path)
    [finding, *_] = checker.check(_listing_obs(PATIENTS[0], PATIENTS[1]))  # type: ignore[arg-type]
    checker.close()
    tail = FindingsTail(tmp_path)
    assert [f.key for f in tail.read_new()] == [
        f.key
        for f in map(
            finding_from_json,
            map(json.loads, (tmp_path / "findings-1.jsonl").read_text().splitlines()),
        )
    ]
    partial = json.dumps(finding_to_json(finding))
    with (tmp_path / "findings-2.jsonl").open("w") as handle:
        handle.write(partial[:20])
    assert tail.read_new() == []
    with (tmp_path / "findings-2.jsonl").open("a") as handle:
        handle.write(partial[20:] + "\n")
    assert [f.key for f in tail.read_new()] == [finding.key]
