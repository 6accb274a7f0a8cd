from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.app import create_app
from controller.audit_state import state_problems
from controller.decisions import Controller
from controller.store import open_engine
from controller.tokens import create_token
from flags.backends.base import FlagState
from flags.backends.local import LocalBackend
from flags.keys import SigningKey, new_signing_key
from flags.policy import BoundPolicy, bind_policy
from flags.verdict import envelope_of
from harness.errors import InfrastructureError
from tests.clinic.testclient import TestClient
from tests.flags.conftest import SIGNING, make_verdict, write_policy

FLAG = "video-switch"
DIGEST = "ab" * 32


class SlowBackend(LocalBackend):
    """A local backend whose enable waits until the test lets it go, to open a race window."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.failing_disables = 0  # the next N disables fail as an unreachable store would

    def disable(self, flag: str, env: str) -> FlagState:
        if self.failing_disables > 0:
            self.failing_disables -= 1
            raise InfrastructureError("flag store unreachable (injected outage)")
        return super().disable(flag, env)

    def enable(
        self, flag: str, env: str, rollout: int = 100, build_digest: str | None = None
    ) -> FlagState:
        self.entered.set()
        assert self.release.wait(10)
        return super().enable(flag, env, rollout, build_digest)


@dataclass
class World:
    client: TestClient
    controller: Controller
    backend: SlowBackend
    audit_key: SigningKey
    bound: BoundPolicy
    tokens: dict[str, str]
    db: str

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def envelope(self, key: SigningKey = SIGNING, **overrides: Any) -> bytes:
        import json

        fields: dict[str, Any] = {"build_digest": DIGEST, **overrides}
        return json.dumps(envelope_of(make_verdict(self.bound, **fields), key)).encode()

    def pin(self, key: SigningKey = SIGNING) -> None:
        proposal = self.client.post(
            f"/v1/flags/{FLAG}/pin-proposals",
            json={"policy_digest": self.bound.digest, "keys": [key.public().pem().decode()]},
            headers=self.as_("alice"),
        )
        assert proposal.status_code == 200, proposal.text
        number = proposal.json()["proposal"]
        approved = self.client.post(f"/v1/pin-proposals/{number}/approve", headers=self.as_("bob"))
        assert approved.status_code == 200, approved.text

    def pin_staged(self, tmp_path: Path) -> None:
        """Pins a policy whose stages are 10% (no wait), 50% (an hour) and 100%."""
        stages = [
            {"percent": 10, "watch_seconds": 0},
            {"percent": 50, "watch_seconds": 3600},
            {"percent": 100, "watch_seconds": 0},
        ]
        self.bound = bind_policy(write_policy(tmp_path / "staged", rollout_stages=stages))
        self.pin()

    def on(self, env: str = "production") -> bool:
        return self.backend.status(FLAG, env).enabled


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """The controller in process on a local backend, with five people's tokens. At the end its
    tables must still be what its audit says (`audit verify`'s state check), so every decision
    path the tests drive also proves that check raises no false alarm; modules that tamper with
    the database on purpose set TAMPERS_WITH_THE_DATABASE."""
    db = f"sqlite:///{tmp_path / 'controller.db'}"
    engine = open_engine(db)
    backend = SlowBackend(tmp_path / "flags-state.json")
    backend.declare_environments(["development", "production"])
    audit_key = new_signing_key()
    controller = Controller(engine, backend, audit_key)
    roles = {
        "alice": "admin",
        "bob": "admin",
        "rita": "release-manager",
        "vic": "viewer",
        "ci": "ci",
    }
    tokens = {name: create_token(engine, name, role) for name, role in roles.items()}
    bound = bind_policy(write_policy(tmp_path / "policy"))
    with TestClient(create_app(controller)) as client:
        yield World(client, controller, backend, audit_key, bound, tokens, db)
    if not getattr(request.module, "TAMPERS_WITH_THE_DATABASE", False):
        assert state_problems(engine) == []
