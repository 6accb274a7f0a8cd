"""The staging support API, one entity at a time, and its invisibility."""

from __future__ import annotations

import pytest

from tests.clinic.conftest import MakeWorld
from tests.clinic.world import EMAIL, PASSWORD, PHONE, SUPPORT, World


def _new_patient(world: World, username: str, **extra: str) -> dict[str, object]:
    body = {
        "role": "patient",
        "username": username,
        "password": PASSWORD,
        "display_name": f"{username.title()} Doe",
        "nhs_number": "999 000 0001",
        **extra,
    }
    response = world.client.post("/_support/users", json=body, headers=SUPPORT)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_users_assignments_and_appointments(make_world: MakeWorld) -> None:
    world = make_world()
    dana = _new_patient(world, "dana", email="dana@patients.example", phone="+44 7700 900999")
    assert set(dana) == {"id", "username"} and dana["username"] == "dana"
    doctor = world.client.post(
        "/_support/users",
        headers=SUPPORT,
        json={
            "role": "clinician",
            "username": "dr_ives",
            "password": PASSWORD,
            "display_name": "Dr Ives",
        },
    )
    assert doctor.status_code == 200
    assigned = world.client.post(
        "/_support/assignments", json={"clinician": "dr_ives", "patient": "dana"}, headers=SUPPORT
    )
    assert assigned.json() == {"ok": True}
    appointment = world.client.post(
        "/_support/appointments",
        headers=SUPPORT,
        json={
            "patient": "dana",
            "clinician": "dr_ives",
            "reason": "dana's knee",
            "starts_at": "2026-06-02T10:00:00Z",
        },
    )
    assert appointment.status_code == 200 and set(appointment.json()) == {"id", "consultation_id"}
    world.calls["dana"] = appointment.json()["consultation_id"]
    world.one_call("dana")
    me = world.get("dana", "/api/me").json()
    assert (me["email"], me["phone"]) == ("dana@patients.example", "+44 7700 900999")
    assert [
        p["username"] for p in world.get("dr_ives", "/api/clinician/patients").json()["items"]
    ] == ["dana"]
    assert [r["patient_id"] for r in world.clinician_recordings("dr_ives")] == [dana["id"]]
    assert world.client.get("/_support/state", headers=SUPPORT).json()["patients"] == 4


def test_assignment_invalidates_a_cached_caseload(make_world: MakeWorld) -> None:
    world = make_world()
    world.one_call("carol")
    assert world.clinician_recordings("dr_grey") == []  # caches dr_grey's caseload
    world.client.post(
        "/_support/assignments", json={"clinician": "dr_grey", "patient": "carol"}, headers=SUPPORT
    )
    assert len(world.clinician_recordings("dr_grey")) == 1


def test_bulk_seed_takes_contact_details(make_world: MakeWorld) -> None:
    world = make_world()
    me = world.get("alice", "/api/me").json()
    assert (me["email"], me["phone"]) == (EMAIL["alice"], PHONE["alice"])
    clinician = world.get("dr_grey", "/api/me").json()
    assert clinician["email"] is None and clinician["phone"] is None


def test_conflicts_and_unknown_names(make_world: MakeWorld) -> None:
    world = make_world()
    body = {"role": "patient", "username": "alice", "password": "p", "display_name": "A"}
    assert world.client.post("/_support/users", json=body, headers=SUPPORT).status_code == 409
    unknown = world.client.post(
        "/_support/assignments",
        json={"clinician": "dr_nobody", "patient": "alice"},
        headers=SUPPORT,
    )
    assert unknown.status_code == 422
    bad_role = {**body, "username": "eve", "role": "admin"}
    assert world.client.post("/_support/users", json=bad_role, headers=SUPPORT).status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_support/state/"),
        ("GET", "/_support"),
        ("GET", "/_support/"),
        ("GET", "/_support/nope"),
        ("POST", "/_support/state"),
        ("GET", "/_support/reset"),
        ("DELETE", "/_support/users"),
        ("POST", "/_support/notifications/flush/"),
    ],
)
def test_unknown_support_paths_are_404_never_a_redirect(
    make_world: MakeWorld, method: str, path: str
) -> None:
    world = make_world()
    for headers in (SUPPORT, {}, {"X-Support-Token": "wrong"}):
        response = world.client.request(method, path, headers=headers, follow_redirects=False)
        assert response.status_code == 404, (method, path, headers, response.status_code)


def test_new_support_routes_hidden_without_token(make_world: MakeWorld) -> None:
    world = make_world()
    for path in (
        "/_support/users",
        "/_support/assignments",
        "/_support/appointments",
        "/_support/notifications/flush",
    ):
        assert world.client.post(path, json={}).status_code == 404
        assert world.client.post(path, json={}, headers={"X-Support-Token": "x"}).status_code == 404


def test_flush_without_notifications_configured(make_world: MakeWorld) -> None:
    world = make_world()
    flushed = world.client.post("/_support/notifications/flush", headers=SUPPORT)
    assert flushed.json() == {"ok": True, "sent": 0, "failed": 0}


def test_a_reset_forgets_the_media_endpoints_calls(make_world: MakeWorld) -> None:
    """Consultation ids start again from 1 after a reset: a call the media endpoint kept
    from the world before handed its tape (another patient's face and voice) to the new
    consultation with its id, and the gate with real calls failed the clean clinic on it
    (a load journey's call, left live when the load stopped, reappeared in the fuzz suite's
    world as a stranger's first segment)."""
    import numpy as np

    from clinic.media_rtc import Tape

    world = make_world(media="real")
    app = world.client.app
    rtc = app.state.clinic.rtc  # type: ignore[attr-defined]
    assert rtc is not None
    rtc.begin(1, "audio")
    rtc._calls[1].tape.add_audio(np.ones(8000, dtype=np.float32))
    response = world.client.post("/_support/reset", headers=SUPPORT)
    assert response.status_code == 200, response.text
    rtc.begin(1, "audio")
    fresh: Tape = rtc._calls[1].tape
    assert fresh.audio == [] and fresh.audio_samples == 0
