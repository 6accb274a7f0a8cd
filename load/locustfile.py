"""The load suite's Locust users. Only Locust imports this file, in its own process.

Two kinds of synthetic user share the run:

* RetrievalUser logs in as a patient or clinician from world.json and does what the incident's
  victims did: lists its recordings, opens one, gets a media token and starts playback with a
  Range request ("media first byte"), and loads its profile page.
* SwitchUser joins one of its patient's consultations and switches video<->audio in waves that
  start on the same wall-clock instant in every user of every process, so that switches really
  are simultaneous (a race only shows up when requests interleave on the server). After each
  switch it lists its own recordings, which is where a misfiled recording becomes visible.

Every response, of both kinds, is judged by the harness's leak oracle in this process
(load.checker); findings go to this process's own JSON-lines file.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from harness.models import Role
from harness.world import SeededAppointment, World
from load.checker import LeakChecker, observation_of
from load.contract import (
    ENV_SWITCH_USERS,
    ENV_WAVE_SECONDS,
    ENV_WORKERS,
    ENV_WORLD,
    MEDIA_FIRST_BYTE,
    RECORDINGS_LIST,
)

# Locust request names that are not the route they hit; everything else is named by its route.
_ENDPOINTS = {MEDIA_FIRST_BYTE: "GET /api/recordings/{id}/media"}
_FIRST_CHUNK = "bytes=0-4095"  # a player's first Range request
_PAGE = 100


class _Shared:
    """Per-process state: the world, the leak checker and the user slot counters."""

    world: World | None = None
    checker: LeakChecker | None = None
    checker_ready = False
    counters: dict[str, int] = {}


def _world() -> World:
    if _Shared.world is None:
        _Shared.world = World.load(Path(os.environ[ENV_WORLD]))
    return _Shared.world


def _checker() -> LeakChecker | None:
    if not _Shared.checker_ready:
        _Shared.checker = LeakChecker.from_env()
        _Shared.checker_ready = True
    return _Shared.checker


def _slot(environment: Environment, kind: str) -> int:
    """A slot unique across all processes, so two users never drive the same consultation."""
    local = _Shared.counters.get(kind, 0)
    _Shared.counters[kind] = local + 1
    workers = max(1, int(os.environ.get(ENV_WORKERS, "1") or 1))
    index = int(getattr(environment.runner, "worker_index", 0) or 0)
    return local * workers + index % workers


def _judge(
    request_type: str,
    name: str,
    response: Any,
    context: dict[str, Any],
    exception: BaseException | None = None,
    url: str | None = None,
    response_time: float = 0.0,
    **_: Any,
) -> None:
    checker = _checker()
    status = int(getattr(response, "status_code", 0) or 0)
    actor = context.get("actor")
    if checker is None or response is None or status == 0 or not actor:
        return
    headers = response.headers.items() if response.headers is not None else ()
    checker.check(
        observation_of(
            actor=str(actor),
            endpoint=_ENDPOINTS.get(name, name),
            method=request_type,
            url=url or "",
            status=status,
            headers=headers,
            body=response.content or b"",
            elapsed=response_time / 1000,
        )
    )


def _close(**_: Any) -> None:
    if _Shared.checker is not None:
        _Shared.checker.close()


# Locust's EventHook is untyped, hence the ignores.
events.request.add_listener(_judge)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_close)  # type: ignore[no-untyped-call]


class _ActorUser(FastHttpUser):
    abstract = True
    actor_id = ""
    role = Role.PATIENT

    def context(self) -> dict[str, Any]:
        return {"actor": self.actor_id}

    def login(self, actor_id: str) -> None:
        actor = _world().actors[actor_id]
        self.actor_id, self.role = actor.id, actor.role
        body = {"username": actor.id, "password": actor.password}
        with self.client.post(
            "/api/login", json=body, name="POST /api/login", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"login as {actor.id} answered {response.status_code}")
                return
            # The session cookie lands in the client's jar; the API also gets the bearer token.
            self.client.auth_header = f"Bearer {response.json()['token']}"

    def get(self, url: str, name: str, **kwargs: Any) -> Any:
        return self.client.get(url, name=name, allow_redirects=False, **kwargs)

    def list_recordings(self) -> list[dict[str, Any]]:
        if self.role is Role.CLINICIAN:
            response = self.get("/api/clinician/recordings", "GET /api/clinician/recordings")
            return _items(response)
        response = self.get(f"/api/me/recordings?per_page={_PAGE}", RECORDINGS_LIST)
        items = _items(response)
        total = _total(response)
        if total > _PAGE:
            # Recordings are listed oldest first; the newest (the ones a race misfiles) are last.
            last = (total + _PAGE - 1) // _PAGE
            items += _items(
                self.get(f"/api/me/recordings?page={last}&per_page={_PAGE}", RECORDINGS_LIST)
            )
        return items


class RetrievalUser(_ActorUser):
    """Browses its own recordings and plays one, like a patient opening their profile."""

    wait_time = constant(0.05)

    def on_start(self) -> None:
        world = _world()
        actors = sorted(world.actors)
        self.login(actors[_slot(self.environment, "retrieval") % len(actors)])

    @task
    def browse(self) -> None:
        recordings = self.list_recordings()
        if recordings:
            self.play(random.choice(recordings))
        page = "/clinician" if self.role is Role.CLINICIAN else "/profile"
        self.get(page, f"GET {page}")

    def play(self, recording: dict[str, Any]) -> None:
        rid = recording.get("id")
        self.get(f"/api/recordings/{rid}", "GET /api/recordings/{id}")
        token = self.client.post(
            f"/api/recordings/{rid}/media-token", name="POST /api/recordings/{id}/media-token"
        )
        if token.status_code != 200:
            return
        self.get(token.json()["url"], MEDIA_FIRST_BYTE, headers={"Range": _FIRST_CHUNK})


class SwitchUser(_ActorUser):
    """Drives one consultation, switching mode in waves shared with every other SwitchUser."""

    wait_time = constant(0)
    fixed_count = int(os.environ.get(ENV_SWITCH_USERS, "0") or 0)
    consultation = 0
    mode = "audio"

    def on_start(self) -> None:
        plan = _switch_plan(_world())
        appointment = plan[_slot(self.environment, "switch") % len(plan)]
        self.login(appointment.patient)
        self.consultation = appointment.consultation_id
        joined = self.client.post(
            f"/api/consultations/{self.consultation}/join",
            name="POST /api/consultations/{id}/join",
        )
        if joined.status_code == 200:
            self.mode = joined.json()["mode"]

    @task
    def wave(self) -> None:
        _sleep_until_next_wave()
        self.switch()
        self.list_recordings()

    def switch(self) -> None:
        target = "video" if self.mode == "audio" else "audio"
        with self.client.post(
            f"/api/consultations/{self.consultation}/switch",
            json={"mode": target},
            name="POST /api/consultations/{id}/switch",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                self.mode = target
            elif response.status_code == 409:
                # Another user switched this call first; our view of its mode is stale.
                response.success()
                self.resync()
            else:
                response.failure(f"switch to {target} answered {response.status_code}")

    def resync(self) -> None:
        call = self.get(f"/api/consultations/{self.consultation}", "GET /api/consultations/{id}")
        if call.status_code == 200:
            self.mode = call.json()["mode"]


def _switch_plan(world: World) -> list[SeededAppointment]:
    """Every patient's first consultation, then every patient's second, and so on."""
    by_patient: dict[str, list[SeededAppointment]] = {}
    for appointment in sorted(world.appointments, key=lambda a: a.id):
        by_patient.setdefault(appointment.patient, []).append(appointment)
    rounds = max((len(v) for v in by_patient.values()), default=0)
    return [
        by_patient[p][r]
        for r in range(rounds)
        for p in sorted(by_patient)
        if r < len(by_patient[p])
    ]


def _sleep_until_next_wave() -> None:
    period = float(os.environ.get(ENV_WAVE_SECONDS, "1.0") or 1.0)
    now = time.time()
    gevent.sleep((now // period + 1) * period - now)


def _items(response: Any) -> list[dict[str, Any]]:
    if response.status_code != 200:
        return []
    items = response.json().get("items", [])
    return items if isinstance(items, list) else []


def _total(response: Any) -> int:
    if response.status_code != 200:
        return 0
    return int(response.json().get("total", 0))
