"""Every paginated surface: page numbers with `next` and a Link header, a cursor, offset/limit,
and the profile page's rel="next" links. Walking every page yields each item exactly once."""

from __future__ import annotations

import re
from typing import Any

from tests.clinic.conftest import MakeWorld
from tests.clinic.test_clean import _page
from tests.clinic.world import SUPPORT, World


def _switchy_call(world: World, user: str, switches: int) -> None:
    world.call(user, "join")
    mode = "video"
    for _ in range(switches):
        assert world.call(user, "switch", mode).status_code == 200
        mode = "audio" if mode == "video" else "video"
    world.call(user, "end")


def _more_appointments(world: World, user: str, clinician: str, count: int) -> None:
    for i in range(count):
        body = {
            "patient": user,
            "clinician": clinician,
            "reason": f"follow-up {i}",
            "starts_at": f"2026-07-{i + 1:02d}T09:00:00Z",
        }
        assert (
            world.client.post("/_support/appointments", json=body, headers=SUPPORT).status_code
            == 200
        )


def test_my_recordings_pages_follow_next_and_link(make_world: MakeWorld) -> None:
    world = make_world()
    _switchy_call(world, "bob", 2)
    _switchy_call(world, "alice", 4)  # 5 recordings
    first = world.get("alice", "/api/me/recordings", params={"per_page": 2})
    body = first.json()
    assert (body["page"], body["per_page"], body["total"]) == (1, 2, 5)
    assert body["next"] == "/api/me/recordings?page=2&per_page=2"
    assert first.headers["link"] == '</api/me/recordings?page=2&per_page=2>; rel="next"'
    seen: list[dict[str, Any]] = []
    url: str | None = "/api/me/recordings?per_page=2"
    while url:
        response = world.get("alice", url)
        seen += response.json()["items"]
        url = response.json()["next"]
        assert ("link" in response.headers) is (url is not None)
    assert len(seen) == 5 == len({r["id"] for r in seen})
    assert {r["patient_id"] for r in seen} == {world.ids["alice"]}
    everything = world.get("alice", "/api/me/recordings").json()
    assert everything["next"] is None and len(everything["items"]) == 5


def test_my_appointments_cursor(make_world: MakeWorld) -> None:
    world = make_world()
    _more_appointments(world, "alice", "dr_grey", 4)
    _more_appointments(world, "bob", "dr_grey", 2)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = world.get("alice", "/api/me/appointments", params=params).json()
        seen += body["items"]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seen) == 5 == len({a["id"] for a in seen})
    assert {a["patient_id"] for a in seen} == {world.ids["alice"]}
    assert world.get("alice", "/api/me/appointments").json()["next_cursor"] is None
    for bad in ("zzz", "YWZ0ZXI6eA", "x" * 101):  # "YWZ0ZXI6eA" is base64 of "after:x"
        response = world.get("alice", "/api/me/appointments", params={"cursor": bad})
        assert response.status_code == 422, bad
    assert world.get("alice", "/api/me/appointments", params={"limit": 0}).status_code == 422


def test_clinician_recordings_offset_limit(make_world: MakeWorld) -> None:
    world = make_world()
    _switchy_call(world, "alice", 2)
    _switchy_call(world, "bob", 1)
    _switchy_call(world, "carol", 1)
    body = world.get("dr_grey", "/api/clinician/recordings").json()
    assert (body["offset"], body["limit"], body["total"]) == (0, 50, 5)
    pages = [
        world.get("dr_grey", "/api/clinician/recordings", params={"offset": o, "limit": 2}).json()
        for o in (0, 2, 4)
    ]
    ids = [r["id"] for page in pages for r in page["items"]]
    assert ids == [r["id"] for r in body["items"]] and len(ids) == 5
    assert (
        world.get("dr_grey", "/api/clinician/recordings", params={"limit": 101}).status_code == 422
    )


def test_profile_recordings_are_paged_by_ten(make_world: MakeWorld) -> None:
    world = make_world()
    _switchy_call(world, "alice", 11)  # 12 recordings
    first = _page(world, "alice", "/profile")
    assert first.count('class="recording"') == 10
    assert '<a rel="next" href="/profile?page=2">Next</a>' in first
    second = _page(world, "alice", "/profile?page=2")
    assert second.count('class="recording"') == 2 and 'rel="next"' not in second
    # the appointments head the first page only
    assert first.count('class="appointment"') == 1 and 'class="appointment"' not in second
    assert "No appointments." not in second
    ids = re.findall(r'class="recording" data-recording-id="(\d+)"', first + second)
    assert len(set(ids)) == 12
