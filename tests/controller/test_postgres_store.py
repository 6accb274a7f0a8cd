"""The controller's schema on PostgreSQL (the URL decides): migrations apply once, and a decision
with its signed audit row commits there as on SQLite."""

from __future__ import annotations

import secrets

import pytest

from controller import audit as chain
from controller.decisions import Controller
from controller.store import migrate, open_engine
from controller.tokens import create_token, principal_for
from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from tests.services.postgres import postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_controller_runs_on_postgresql(tmp_path) -> None:
    with postgres() as pg:
        url = pg.create_database(f"controller_{secrets.token_hex(4)}")
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = open_engine(url)
        assert migrate(engine) == []  # already at the newest step
        token = create_token(engine, "alice", "admin")
        who = principal_for(engine, token)
        assert who is not None and who.role == "admin"
        key = new_signing_key()
        controller = Controller(engine, LocalBackend(tmp_path / "state.json"), key)
        controller.propose_pin(who, "video-switch", "ab" * 32, [key.public().pem().decode()])
        assert chain.verify(engine, key.public()) == []
        engine.dispose()
