"""Relations that change over time on the clean clinic: transfer, discharge, consent, delete."""

from __future__ import annotations

from tests.clinic.conftest import MakeWorld
from tests.clinic.world import PATIENTS, World


def _patients(world: World, clinician: str) -> list[str]:
    items = world.get(clinician, "/api/clinician/patients").json()["items"]
    return sorted(p["username"] for p in items)


def _owners(world: World, clinician: str) -> set[int]:
    return {r["patient_id"] for r in world.clinician_recordings(clinician)}


def _transfer(world: World, by: str, patient: str, to: str) -> int:
    url = f"/api/clinician/patients/{world.ids[patient]}/transfer"
    return int(world.post(by, url, json={"to_clinician": to}).status_code)


def test_transfer_moves_the_patient(make_world: MakeWorld) -> None:
    world = make_world()
    world.one_call("alice")
    assert world.ids["alice"] in _owners(world, "dr_grey")
    recording = world.recordings("alice")[0]["id"]
    assert _transfer(world, "dr_grey", "alice", "dr_hale") == 200
    assert _patients(world, "dr_grey") == ["bob"]
    assert _patients(world, "dr_hale") == ["alice", "carol"]
    assert world.ids["alice"] not in _owners(world, "dr_grey")
    assert world.ids["alice"] in _owners(world, "dr_hale")
    assert world.get("dr_grey", f"/api/recordings/{recording}").status_code == 404
    assert world.get("dr_hale", f"/api/recordings/{recording}").status_code == 200
    # The appointment was booked with dr_grey; the call is now dr_hale's to take part in.
    assert {a["patient_name"] for a in world.appointments("dr_grey")} == {PATIENTS["bob"][0]}
    assert world.call("dr_grey", "join", patient="alice").status_code == 404
    assert world.call("dr_hale", "join", patient="alice").status_code == 409  # ended
    assert world.get("dr_grey", "/api/search", params={"q": "alice"}).json()["items"] == []
    assert _transfer(world, "dr_grey", "alice", "dr_hale") == 404  # no longer theirs to move
    assert _transfer(world, "dr_hale", "alice", "dr_hale") == 409
    assert _transfer(world, "dr_hale", "alice", "dr_nobody") == 422
    assert _transfer(world, "alice", "alice", "dr_grey") == 403
    assert _transfer(world, "dr_hale", "alice", "dr_grey") == 200  # and back again
    assert world.ids["alice"] in _owners(world, "dr_grey")


def test_discharge_ends_the_care_relation(make_world: MakeWorld) -> None:
    world = make_world()
    world.one_call("bob")
    recording = world.recordings("bob")[0]["id"]
    url = f"/api/clinician/patients/{world.ids['bob']}/discharge"
    assert world.post("dr_hale", url).status_code == 404
    assert world.post("dr_grey", url).json() == {"ok": True}
    assert _patients(world, "dr_grey") == ["alice"]
    assert world.ids["bob"] not in _owners(world, "dr_grey")
    assert world.get("dr_grey", f"/api/recordings/{recording}").status_code == 404
    assert world.post("dr_grey", url).status_code == 404
    assert {a["patient_id"] for a in world.appointments("dr_grey")} == {world.ids["alice"]}
    assert world.recordings("bob")  # the patient keeps their own recordings


def test_a_media_token_taken_before_a_transfer_or_discharge_no_longer_plays(
    make_world: MakeWorld,
) -> None:
    """Found by two switch scenarios playing at once: a clinician's look had listed a recording
    and taken its media token when the other scenario handed the patient over, and the token
    still played the patient's face and voice. The token re-checked consent and deletion but
    not the care relation."""
    world = make_world()
    world.one_call("alice")
    world.one_call("bob")
    alice, bob = world.recordings("alice")[0]["id"], world.recordings("bob")[0]["id"]
    before = {
        rid: world.post("dr_grey", f"/api/recordings/{rid}/media-token").json()["url"]
        for rid in (alice, bob)
    }
    assert all(world.get("dr_grey", url).status_code == 200 for url in before.values())
    assert _transfer(world, "dr_grey", "alice", "dr_hale") == 200
    assert world.post("dr_grey", f"/api/clinician/patients/{world.ids['bob']}/discharge").is_success
    assert world.get("dr_grey", before[alice]).status_code == 404
    assert world.get("dr_grey", before[bob]).status_code == 404
    assert world.media("alice", alice) and world.media("bob", bob)  # the owners still play them
    taken = world.post("dr_hale", f"/api/recordings/{alice}/media-token").json()["url"]
    assert world.get("dr_hale", taken).status_code == 200  # the new clinician does


def test_consent_withdrawal_hides_a_recording_from_clinicians(make_world: MakeWorld) -> None:
    world = make_world()
    world.one_call("alice")
    rid = world.recordings("alice")[0]["id"]
    media_url = world.post("dr_grey", f"/api/recordings/{rid}/media-token").json()["url"]
    consent = f"/api/recordings/{rid}/consent"
    assert world.post("dr_grey", consent, json={"share_with_clinician": False}).status_code == 404
    assert world.post("bob", consent, json={"share_with_clinician": False}).status_code == 404
    assert world.post("alice", consent, json={"share_with_clinician": False}).status_code == 200
    assert world.clinician_recordings("dr_grey") == []
    for path in ("", "/summary.csv", "/summary.pdf"):
        assert world.get("dr_grey", f"/api/recordings/{rid}{path}").status_code == 404
    assert world.post("dr_grey", f"/api/recordings/{rid}/media-token").status_code == 404
    assert world.get("dr_grey", media_url).status_code == 404  # a token issued before
    assert world.media("alice", rid)  # the owner still has it
    assert world.get("dr_grey", "/api/search", params={"q": "asthma"}).json()["items"] == []
    assert world.post("alice", consent, json={"share_with_clinician": True}).status_code == 200
    assert [r["id"] for r in world.clinician_recordings("dr_grey")] == [rid]
    assert world.post("alice", consent, json={"share_with_clinician": "no"}).status_code == 422


def test_deleted_recording_is_gone_for_everyone(make_world: MakeWorld) -> None:
    world = make_world()
    world.call("alice", "join")
    world.call("alice", "switch", "video")
    world.call("alice", "end")
    kept, gone = (r["id"] for r in world.recordings("alice"))
    urls = {
        u: world.post(u, f"/api/recordings/{gone}/media-token").json()["url"]
        for u in ("alice", "dr_grey")
    }
    assert world.delete("bob", f"/api/recordings/{gone}").status_code == 404
    assert world.delete("dr_grey", f"/api/recordings/{gone}").status_code == 404
    assert world.delete("alice", f"/api/recordings/{gone}").status_code == 204
    assert [r["id"] for r in world.recordings("alice")] == [kept]
    assert [r["id"] for r in world.clinician_recordings("dr_grey")] == [kept]
    for user in ("alice", "dr_grey"):
        for path in ("", "/summary.csv", "/summary.pdf"):
            assert world.get(user, f"/api/recordings/{gone}{path}").status_code == 404
        assert world.post(user, f"/api/recordings/{gone}/media-token").status_code == 404
        assert world.get(user, urls[user]).status_code == 404
    export = world.get("alice", "/api/me/recordings/export.csv").text
    assert export.count(PATIENTS["alice"][0]) == 1
    assert world.delete("alice", f"/api/recordings/{gone}").status_code == 404
