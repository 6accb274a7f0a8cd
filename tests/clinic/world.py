"""A small synthetic practice and helpers to drive a clinic through any httpx-like client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORT_TOKEN = "staging-support-secret"
SUPPORT = {"X-Support-Token": SUPPORT_TOKEN}
PASSWORD = "correct horse battery"

PATIENTS = {
    "alice": ("Alice Ashworth", "943 476 5919", "alice's asthma review"),
    "bob": ("Bob Brennan", "401 023 2137", "bob's blood pressure check"),
    "carol": ("Carol Cartwright", "850 555 1234", "carol's carpal tunnel"),
}
# dr_grey looks after alice and bob; dr_hale only after carol.
CLINICIANS = {"dr_grey": ("Dr Grey", ["alice", "bob"]), "dr_hale": ("Dr Hale", ["carol"])}
CLINICIAN_OF = {"alice": "dr_grey", "bob": "dr_grey", "carol": "dr_hale"}
# Private contact details, for the "recording ready" e-mail and SMS.
EMAIL = {u: f"{u}@patients.example" for u in PATIENTS}
PHONE = {u: f"+44 7700 900{i:03d}" for i, u in enumerate(PATIENTS)}


def seed_body() -> dict[str, Any]:
    return {
        "patients": [
            {
                "username": u,
                "password": PASSWORD,
                "display_name": n,
                "nhs_number": nhs,
                "notes": f"notes for {u}",
                "email": EMAIL[u],
                "phone": PHONE[u],
            }
            for u, (n, nhs, _) in PATIENTS.items()
        ],
        "clinicians": [
            {"username": u, "password": PASSWORD, "display_name": n, "patients": p}
            for u, (n, p) in CLINICIANS.items()
        ],
        "appointments": [
            {
                "patient": u,
                "clinician": CLINICIAN_OF[u],
                "reason": reason,
                "starts_at": "2026-06-01T09:00:00Z",
            }
            for u, (_, _, reason) in PATIENTS.items()
        ],
    }


@dataclass
class World:
    """Seeded ids plus a bearer token per user."""

    client: Any
    ids: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            response = self.client.post("/api/login", json={"username": user, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[user] = response.json()["token"]
            self.client.cookies.clear()
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers(user), **kw.pop("headers", {})}, **kw)

    def post(self, user: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers(user), **kw.pop("headers", {})}, **kw)

    def delete(self, user: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers(user), **kw.pop("headers", {})}
        return self.client.delete(url, headers=headers, **kw)

    def clinician_recordings(self, user: str) -> list[dict[str, Any]]:
        response = self.get(user, "/api/clinician/recordings", params={"limit": 100})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def one_call(self, user: str) -> None:
        """Join and end `user`'s call: one recording."""
        assert self.call(user, "join").status_code == 200
        assert self.call(user, "end").status_code == 200

    def call(
        self, user: str, action: str, mode: str | None = None, patient: str | None = None
    ) -> Any:
        call_id = self.calls[patient or user]
        body = {"mode": mode} if mode else None
        return self.post(user, f"/api/consultations/{call_id}/{action}", json=body)

    def recordings(self, user: str) -> list[dict[str, Any]]:
        response = self.get(user, "/api/me/recordings", params={"per_page": 100})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def appointments(self, user: str) -> list[dict[str, Any]]:
        response = self.get(user, "/api/me/appointments")
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def media(self, user: str, recording_id: int) -> bytes:
        token = self.post(user, f"/api/recordings/{recording_id}/media-token")
        assert token.status_code == 200, token.text
        response = self.get(user, token.json()["url"])
        assert response.status_code == 200, response.text
        return bytes(response.content)


def seed(client: Any) -> World:
    assert client.post("/_support/reset", headers=SUPPORT).status_code == 200
    response = client.post("/_support/seed", json=seed_body(), headers=SUPPORT)
    assert response.status_code == 200, response.text
    body = response.json()
    world = World(client=client, ids={**body["patients"], **body["clinicians"]})
    world.calls = {a["patient"]: a["consultation_id"] for a in body["appointments"]}
    return world


def foreign(items: list[dict[str, Any]], world: World, user: str) -> list[dict[str, Any]]:
    """Items (recordings or appointments) about another patient's consultation, whoever they
    are filed under: a misfiled recording carries the victim's patient_id but not their call."""
    return [
        item
        for item in items
        if item["patient_id"] != world.ids[user] or item["consultation_id"] != world.calls[user]
    ]


def full_call_with_switch(world: World, user: str) -> None:
    """Join, switch to video, switch back, end: three recordings for `user`."""
    assert world.call(user, "join").status_code == 200
    assert world.call(user, "switch", "video").status_code == 200
    assert world.call(user, "switch", "audio").status_code == 200
    assert world.call(user, "end").status_code == 200


def check_ownership_flow(world: World) -> None:
    """The clean clinic's core rules after every patient has had a switched call."""
    for user in PATIENTS:
        full_call_with_switch(world, user)
    for user, (name, nhs, reason) in PATIENTS.items():
        mine = world.recordings(user)
        assert len(mine) == 3 and not foreign(mine, world, user)
        assert {r["title"] for r in mine} == {
            f"audio recording: {reason}",
            f"video recording: {reason}",
        }
        for recording in mine:
            data = world.media(user, recording["id"])
            assert name.encode() in data and nhs.encode() in data and reason.encode() in data
        assert [a["patient_id"] for a in world.appointments(user)] == [world.ids[user]]
    grey = world.get("dr_grey", "/api/clinician/recordings").json()["items"]
    assert {r["patient_id"] for r in grey} == {world.ids["alice"], world.ids["bob"]}
    hale = world.get("dr_hale", "/api/clinician/recordings").json()["items"]
    assert {r["patient_id"] for r in hale} == {world.ids["carol"]}
    bobs = world.recordings("bob")[0]["id"]
    assert world.get("alice", f"/api/recordings/{bobs}").status_code == 404
    assert world.post("alice", f"/api/recordings/{bobs}/media-token").status_code == 404
    assert world.get("dr_hale", f"/api/recordings/{bobs}").status_code == 404
    assert world.get("dr_grey", f"/api/recordings/{bobs}").status_code == 200
