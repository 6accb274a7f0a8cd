"""The built-in adapter for the reference clinic (clinic/API.md).

It is also the template for a new adapter: map the four jobs (seed, login, surfaces, act) onto
the deployment's routes, and say which responses are listings.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from harness.adapters import Session
from harness.driver import Driver
from harness.errors import TargetUnreachable, UsageError
from harness.models import Actor, Observation, Role
from harness.oracles import Listing
from harness.population import Population
from harness.world import SeededAppointment, World

SUPPORT_HEADER = "X-Support-Token"
# Routes whose JSON body is a list of recordings / appointments, for the listing oracles.
_RECORDING_LISTS = ("GET /api/me/recordings", "GET /api/clinician/recordings")
_APPOINTMENT_LISTS = ("GET /api/me/appointments",)
# Reads that are safe to repeat as another actor (the access matrix). Consultation actions are
# not replayed: they change state, and a participant replaying them is legitimate.
_REPLAYABLE = ("GET", "POST /api/recordings/{id}/media-token")
_MEDIA_HALVES = 2


class ClinicAdapter:
    def __init__(
        self,
        base_url: str,
        support_token: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._support = {SUPPORT_HEADER: support_token}
        self._driver = Driver(self.base_url, transport=transport)
        self._world: World | None = None
        # Recordings each actor already fetched in full. Recordings are immutable once filed,
        # so a later look re-reads the lists and pages (where leaks appear) but fetches only
        # new recordings' metadata and media; that keeps a run linear in recordings, not
        # quadratic.
        self._fetched: dict[str, set[int]] = {}

    # -- setup -------------------------------------------------------------------------------

    async def check(self) -> None:
        health = await self._driver.request("harness", "check", "GET", "/healthz", "GET /healthz")
        if health.status != 200:
            raise TargetUnreachable(
                f"{self.base_url}/healthz answered {health.status}",
                "point --target at a running clinic",
            )
        state = await self._support_call("GET", "/_support/state")
        if state.status == 404:
            raise UsageError(
                f"{self.base_url} has no staging support API, or the support token is wrong",
                "start the target with --support-token T and pass the same --support-token",
            )

    async def seed(self, population: Population) -> World:
        reset = await self._support_call("POST", "/_support/reset")
        self._expect(reset, "reset the staging data")
        body = {
            "patients": [_asdict(p) for p in population.patients],
            "clinicians": [
                {**_asdict(c), "patients": list(c.patients)} for c in population.clinicians
            ],
            "appointments": [_asdict(a) for a in population.appointments],
        }
        seeded = await self._support_call("POST", "/_support/seed", body)
        data = self._expect(seeded, "seed the synthetic population")
        self._world = _world_from(self.base_url, population, data)
        self._fetched.clear()
        return self._world

    async def _support_call(self, method: str, url: str, body: Any = None) -> Observation:
        return await self._driver.request(
            "harness", "support", method, url, f"{method} {url}", headers=self._support, json=body
        )

    def _expect(self, obs: Observation, what: str) -> Any:
        if obs.status != 200:
            raise TargetUnreachable(
                f"could not {what}: {obs.method} {obs.url} answered {obs.status}",
                "check the target's logs; the support API must accept the seed format",
            )
        return json.loads(obs.body)

    # -- sessions ----------------------------------------------------------------------------

    async def login(self, actor: Actor) -> Session:
        obs = await self._driver.request(
            actor.id,
            "login",
            "POST",
            "/api/login",
            "POST /api/login",
            json={"username": actor.id, "password": actor.password},
        )
        data = self._expect(obs, f"log in as {actor.id}")
        cookie = next((v.split(";")[0] for k, v in obs.headers if k.lower() == "set-cookie"), None)
        return Session(actor=actor, token=str(data["token"]), cookie=cookie)

    def anonymous(self) -> Session:
        from harness.models import ANONYMOUS

        return Session(actor=ANONYMOUS)

    def _auth(self, session: Session) -> dict[str, str]:
        headers: dict[str, str] = {}
        if session.token:
            headers["Authorization"] = f"Bearer {session.token}"
        if session.cookie:
            headers["Cookie"] = session.cookie
        return headers

    async def _get(self, session: Session, step: str, url: str, endpoint: str) -> Observation:
        return await self._driver.request(
            session.actor.id, step, "GET", url, endpoint, headers=self._auth(session)
        )

    # -- what an actor can reach -------------------------------------------------------------

    async def lists(self, session: Session, step: str) -> list[Observation]:
        pages = [p for p in _pages(session) if p[1] in _RECORDING_LISTS + _APPOINTMENT_LISTS]
        return [await self._get(session, step, url, endpoint) for url, endpoint in pages]

    async def surfaces(self, session: Session, step: str) -> list[Observation]:
        seen = [await self._get(session, step, url, ep) for url, ep in _pages(session)]
        fetched = self._fetched.setdefault(session.actor.id, set())
        for recording_id in _recording_ids(seen):
            if recording_id not in fetched:
                fetched.add(recording_id)
                seen += await self._recording(session, step, recording_id)
        return seen

    async def _recording(self, session: Session, step: str, rid: int) -> list[Observation]:
        meta = await self._get(session, step, f"/api/recordings/{rid}", "GET /api/recordings/{id}")
        token = await self._driver.request(
            session.actor.id,
            step,
            "POST",
            f"/api/recordings/{rid}/media-token",
            "POST /api/recordings/{id}/media-token",
            headers=self._auth(session),
        )
        seen = [meta, token]
        if token.status != 200:
            return seen
        url = str(json.loads(token.body)["url"])
        size = int(json.loads(meta.body).get("media_size", 0)) if meta.status == 200 else 0
        seen += await self._media(session, step, url, size)
        return seen

    async def _media(self, session: Session, step: str, url: str, size: int) -> list[Observation]:
        """Fetch media in Range halves, as a player would, so split canaries are exercised."""
        if size <= 1:
            return [await self._get(session, step, url, "GET /api/recordings/{id}/media")]
        cut = size // _MEDIA_HALVES
        seen = []
        for first, last in ((0, cut - 1), (cut, size - 1)):
            headers = {**self._auth(session), "Range": f"bytes={first}-{last}"}
            seen.append(
                await self._driver.request(
                    session.actor.id,
                    step,
                    "GET",
                    url,
                    "GET /api/recordings/{id}/media",
                    headers=headers,
                )
            )
        return seen

    # -- driving a call ----------------------------------------------------------------------

    async def act(
        self, session: Session, step: str, action: str, consultation_id: int, arg: str = ""
    ) -> Observation:
        url = f"/api/consultations/{consultation_id}/{action}"
        body = {"mode": arg} if action == "switch" else None
        return await self._driver.request(
            session.actor.id,
            step,
            "POST",
            url,
            f"POST /api/consultations/{{id}}/{action}",
            headers=self._auth(session),
            json=body,
        )

    async def replay_as(self, session: Session, observation: Observation) -> Observation | None:
        key = f"{observation.method} {observation.endpoint.split(' ', 1)[-1]}"
        if observation.method != "GET" and key not in _REPLAYABLE:
            return None
        if observation.endpoint.startswith(("GET /_support", "POST /api/login")):
            return None
        headers = self._auth(session)
        if observation.byte_range is not None:
            headers["Range"] = f"bytes={observation.byte_range[0]}-{observation.byte_range[1]}"
        return await self._driver.request(
            session.actor.id,
            f"access/{observation.actor}->{session.actor.id}",
            observation.method,
            observation.url,
            observation.endpoint,
            headers=headers,
        )

    def listing(self, observation: Observation) -> Listing | None:
        if observation.status != 200 or self._world is None:
            return None
        if observation.endpoint in _RECORDING_LISTS:
            kind = "recording"
        elif observation.endpoint in _APPOINTMENT_LISTS:
            kind = "appointment"
        else:
            return None
        try:
            items = json.loads(observation.body)["items"]
            owners = tuple(self._world.actor_for_server_id(int(i["patient_id"])) for i in items)
        except (ValueError, KeyError, TypeError):
            return None
        return Listing(kind=kind, owners=owners)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self._driver.aclose()


def _pages(session: Session) -> list[tuple[str, str]]:
    """(url, endpoint) of everything an actor can open, before following recordings."""
    if session.actor.role is Role.CLINICIAN:
        return [
            ("/api/me", "GET /api/me"),
            ("/api/clinician/patients", "GET /api/clinician/patients"),
            ("/api/clinician/recordings", "GET /api/clinician/recordings"),
            ("/clinician", "GET /clinician"),
        ]
    return [
        ("/api/me", "GET /api/me"),
        ("/api/me/appointments", "GET /api/me/appointments"),
        ("/api/me/recordings?per_page=100", "GET /api/me/recordings"),
        ("/profile", "GET /profile"),
    ]


def _asdict(spec: object) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__slots__}  # type: ignore[attr-defined]


def _recording_ids(observations: list[Observation]) -> list[int]:
    ids: list[int] = []
    for obs in observations:
        if obs.status == 200 and obs.endpoint in _RECORDING_LISTS:
            try:
                ids += [int(item["id"]) for item in json.loads(obs.body)["items"]]
            except (ValueError, KeyError, TypeError):
                continue
    return sorted(set(ids))


def _world_from(base_url: str, population: Population, data: dict[str, Any]) -> World:
    actors: dict[str, Actor] = {}
    for p in population.patients:
        actors[p.username] = Actor(p.username, Role.PATIENT, p.display_name, p.password)
    for c in population.clinicians:
        actors[c.username] = Actor(
            c.username, Role.CLINICIAN, c.display_name, c.password, frozenset(c.patients)
        )
    appointments = tuple(
        SeededAppointment(
            id=int(a["id"]),
            consultation_id=int(a["consultation_id"]),
            patient=str(a["patient"]),
            clinician=str(a["clinician"]),
        )
        for a in data["appointments"]
    )
    return World(
        target=base_url,
        seed=population.seed,
        actors=actors,
        ownership=population.ownership,
        appointments=appointments,
        server_ids={str(k): int(v) for k, v in data["patients"].items()},
    )
