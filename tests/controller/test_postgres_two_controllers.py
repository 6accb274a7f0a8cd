"""Two controllers on one REAL PostgreSQL database (issue 25: multi-instance safety): their
decisions are serialised by an advisory lock, so a revoke handled by one controller while the
other is mid-enable waits for it and turns the flag off; both keep one intact audit chain."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

import pytest

from controller import audit as chain
from controller.decisions import Controller
from controller.store import open_engine
from controller.tokens import create_token, principal_for
from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from flags.policy import bind_policy
from flags.verdict import envelope_of
from tests.controller.conftest import SlowBackend
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.postgres import postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG, ENV = "video-switch", "production"


def test_two_controllers_on_postgresql_serialise_a_revoke_behind_an_enable(
    tmp_path: Path,
) -> None:
    with postgres() as pg:
        url = pg.create_database(f"controller_{secrets.token_hex(4)}")
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        key = new_signing_key()
        state = tmp_path / "flags-state.json"
        slow = SlowBackend(state)
        slow.declare_environments(["development", ENV])
        # Two controllers: each its own engine (own connections) and its own process lock,
        # as two processes would have; only the database is shared.
        first = Controller(open_engine(url), slow, key)
        second = Controller(open_engine(url), LocalBackend(state), key)
        engine = first.engine
        who = {
            name: principal_for(engine, create_token(engine, name, role))
            for name, role in {"alice": "admin", "bob": "admin", "rita": "release-manager"}.items()
        }
        assert all(who.values())
        bound = bind_policy(write_policy(tmp_path / "policy"))
        proposal = first.propose_pin(
            who["alice"], FLAG, bound.digest, [SIGNING.public().pem().decode()]
        )  # type: ignore[arg-type]
        second.approve_pin(who["bob"], proposal)  # type: ignore[arg-type]
        digest = "cd" * 32
        envelope = json.dumps(
            envelope_of(make_verdict(bound, build_digest=digest), SIGNING)
        ).encode()

        slow.release.clear()
        enabling = threading.Thread(
            target=first.enable, args=(who["rita"], FLAG, ENV, envelope), daemon=True
        )
        enabling.start()
        assert slow.entered.wait(30), "the enable never reached the flag store"
        revoked: list[list[str]] = []
        revoking = threading.Thread(
            target=lambda: revoked.append(second.revoke(who["rita"], FLAG, digest)),  # type: ignore[arg-type]
            daemon=True,
        )
        revoking.start()
        revoking.join(2.0)
        assert revoking.is_alive(), "the second controller decided while the first was mid-enable"
        slow.release.set()
        enabling.join(30)
        revoking.join(30)

        assert revoked == [[ENV]]
        assert not LocalBackend(state).status(FLAG, ENV).enabled
        status = second.status(who["rita"], FLAG)  # type: ignore[arg-type]
        assert status["revoked"] == [digest]
        assert status["approved"][ENV]["enabled"] is False
        assert chain.verify(engine, key.public()) == []
        first.engine.dispose()
        second.engine.dispose()
