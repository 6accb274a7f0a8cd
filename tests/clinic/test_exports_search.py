"""Recording summaries (CSV, PDF, export of all mine) and search, on the clean clinic."""

from __future__ import annotations

import base64
import csv
import io
import json

import pypdf

from tests.clinic.conftest import MakeWorld
from tests.clinic.world import PATIENTS, World


def _two_patients_recorded(world: World) -> tuple[int, int]:
    world.one_call("alice")
    world.one_call("bob")
    return world.recordings("alice")[0]["id"], world.recordings("bob")[0]["id"]


def test_pdf_summary_text_is_extractable(make_world: MakeWorld) -> None:
    world = make_world()
    alices, _ = _two_patients_recorded(world)
    response = world.get("alice", f"/api/recordings/{alices}/summary.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="recording-{alices}.pdf"'
    )
    reader = pypdf.PdfReader(io.BytesIO(response.content), strict=True)
    text = reader.pages[0].extract_text()
    name, nhs, reason = PATIENTS["alice"]
    for expected in (name, nhs, reason, f"audio recording: {reason}", "Mode: audio"):
        assert expected in text, expected
    assert PATIENTS["bob"][0] not in text
    # The document properties a viewer shows, in the info dictionary and in XMP.
    info, xmp = reader.metadata, reader.xmp_metadata
    assert info is not None and xmp is not None
    assert (info.title, info.author) == (f"Recording {alices} summary", name)
    assert info.subject == f"NHS number {nhs}: audio recording: {reason}"
    assert xmp.dc_creator == [name]
    assert xmp.dc_description == {"x-default": info.subject}
    assert xmp.dc_title == {"x-default": info.title}


def test_playback_token_names_the_recordings_patient(make_world: MakeWorld) -> None:
    world = make_world()
    alices, _ = _two_patients_recorded(world)
    world.call("carol", "join")
    for viewer in ("alice", "dr_grey"):  # the owner and her clinician
        answer = world.post(viewer, f"/api/recordings/{alices}/media-token").json()
        header, payload, signature = answer["playback"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["rid"] == alices and claims["sub"] == world.ids["alice"]
        assert (claims["name"], claims["nhs"]) == PATIENTS["alice"][:2]
        assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
        assert len(base64.urlsafe_b64decode(signature + "=")) == 32


def test_csv_summary_and_export(make_world: MakeWorld) -> None:
    world = make_world()
    alices, _ = _two_patients_recorded(world)
    one = world.get("dr_grey", f"/api/recordings/{alices}/summary.csv")
    assert one.headers["content-type"] == "text/csv; charset=utf-8"
    (row,) = csv.DictReader(io.StringIO(one.text))
    name, nhs, reason = PATIENTS["alice"]
    assert (row["patient_name"], row["nhs_number"], row["reason"]) == (name, nhs, reason)
    assert (row["title"], row["mode"]) == (f"audio recording: {reason}", "audio")
    assert row["created_at"].endswith("+00:00")
    world.call("carol", "join")
    world.call("carol", "switch", "video")
    world.call("carol", "end")
    rows = list(
        csv.DictReader(io.StringIO(world.get("carol", "/api/me/recordings/export.csv").text))
    )
    assert [r["mode"] for r in rows] == ["audio", "video"]
    assert {r["patient_name"] for r in rows} == {PATIENTS["carol"][0]}
    clinician = world.get("dr_grey", "/api/me/recordings/export.csv")
    assert clinician.status_code == 200 and len(clinician.text.splitlines()) == 1


def test_summaries_follow_visibility(make_world: MakeWorld) -> None:
    world = make_world()
    alices, bobs = _two_patients_recorded(world)
    for path in ("summary.csv", "summary.pdf"):
        assert world.get("bob", f"/api/recordings/{alices}/{path}").status_code == 404
        assert world.get("dr_hale", f"/api/recordings/{alices}/{path}").status_code == 404
        assert world.get("dr_grey", f"/api/recordings/{bobs}/{path}").status_code == 200
        assert world.client.get(f"/api/recordings/{alices}/{path}").status_code == 401


def test_search_is_scoped(make_world: MakeWorld) -> None:
    world = make_world()
    for user in PATIENTS:
        world.one_call(user)

    def hits(user: str, q: str) -> list[tuple[str, int]]:
        response = world.get(user, "/api/search", params={"q": q})
        assert response.status_code == 200, response.text
        return sorted((h["kind"], h["patient_id"]) for h in response.json()["items"])

    alice, bob, carol = (world.ids[u] for u in PATIENTS)
    assert hits("alice", "ASTHMA") == [("appointment", alice), ("recording", alice)]
    assert hits("bob", "asthma") == []
    assert hits("alice", "review") == [("appointment", alice), ("recording", alice)]
    assert hits("dr_grey", "a") == [
        ("patient", alice),
        ("patient", bob),
        ("recording", alice),
        ("recording", bob),
    ]
    assert hits("dr_grey", "carol") == []
    assert hits("dr_hale", "carol") == [("patient", carol), ("recording", carol)]
    assert hits("alice", "%") == [] and hits("alice", "_") == []  # wildcards are literal
    assert world.get("alice", "/api/search", params={"q": ""}).status_code == 422
    assert world.client.get("/api/search", params={"q": "a"}).status_code == 401
