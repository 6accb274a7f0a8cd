"""Two controllers on one REAL PostgreSQL database (issue 25: multi-instance safety): their
decisions are serialised by an advisory lock, so a revoke handled by one controller while the
other is mid-enable waits for it and turns the flag off; both keep one intact audit chain."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from controller import audit as chain
from controller.audit_state import state_problems
from controller.decisions import Controller
from controller.store import audit, open_engine
from controller.tokens import create_token, principal_for
from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from flags.policy import bind_policy
from flags.verdict import envelope_of
from tests.controller.conftest import SlowBackend
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.controller import controller_serve
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
        assert state_problems(engine) == []
        first.engine.dispose()
        second.engine.dispose()


def test_two_served_controllers_on_postgresql_keep_one_chain_and_revokes_win(
    tmp_path: Path,
) -> None:
    """Two `chaperone controller serve` processes on one PostgreSQL database: enables at one
    and revokes of the same artefact at the other, sent at the same moment, round after
    round. Every request is decided (no 5xx), a revoked artefact is never left on, and the
    audit stays one signed chain."""
    with postgres() as pg:
        url = pg.create_database(f"controller_{secrets.token_hex(4)}")
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        key = new_signing_key()
        (tmp_path / "controller.key").write_bytes(key.pem())
        LocalBackend(tmp_path / "flags-state.json").declare_environments(["development", ENV])
        engine = open_engine(url)
        tokens = {
            name: create_token(engine, name, role)
            for name, role in {"alice": "admin", "bob": "admin", "rita": "release-manager"}.items()
        }
        bound = bind_policy(write_policy(tmp_path / "policy"))
        args = ("--backend", "local", "--state", str(tmp_path / "flags-state.json"), "--env", ENV)
        key_file = tmp_path / "controller.key"
        with contextlib.ExitStack() as running:
            one, two = (
                running.enter_context(
                    controller_serve(url, key_file, tmp_path / f"{name}.log", *args, seconds=90)
                )
                for name in ("one", "two")
            )

            def post(base: str, who: str, path: str, **kwargs: Any) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tokens[who]}"}
                return httpx.post(f"{base}{path}", headers=headers, timeout=60, **kwargs)

            pin = {"policy_digest": bound.digest, "keys": [SIGNING.public().pem().decode()]}
            number = post(one, "alice", f"/v1/flags/{FLAG}/pin-proposals", json=pin).json()
            assert post(two, "bob", f"/v1/pin-proposals/{number['proposal']}/approve").is_success

            for round_no in range(8):
                digest = f"{round_no:02x}" * 32
                verdict = make_verdict(bound, build_digest=digest)
                envelope = json.dumps(envelope_of(verdict, SIGNING)).encode()
                answers: dict[str, httpx.Response] = {}
                start = threading.Barrier(2)

                def enable(envelope: bytes = envelope) -> None:
                    start.wait()
                    answers["enable"] = post(
                        one, "rita", f"/v1/flags/{FLAG}/envs/{ENV}/enable", content=envelope
                    )

                def revoke(digest: str = digest) -> None:
                    start.wait()
                    answers["revoke"] = post(
                        two, "rita", f"/v1/flags/{FLAG}/revocations", json={"digest": digest}
                    )

                threads = [threading.Thread(target=enable), threading.Thread(target=revoke)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(90)
                assert answers["revoke"].status_code == 200, answers["revoke"].text
                # Whichever came first, the revoke wins: refused, or enabled and then turned off.
                assert answers["enable"].status_code in (200, 409), answers["enable"].text
                assert not LocalBackend(tmp_path / "flags-state.json").status(FLAG, ENV).enabled
        assert chain.verify(engine, key.public()) == []
        assert state_problems(engine) == []
        with engine.connect() as conn:
            actions = [row.action for row in conn.execute(select(audit.c.action))]
        assert actions.count("revoked") == 8
        engine.dispose()
