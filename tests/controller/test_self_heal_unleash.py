"""Self-heal against a REAL Unleash 8.2 on PostgreSQL: a flag turned on through Unleash's admin
API, behind the controller's back, is off again within one interval."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.decisions import Controller
from controller.guard import Watcher
from controller.heal import heal_once
from controller.store import audit, open_engine
from controller.tokens import Principal, create_token, principal_for
from flags.backends.unleash import UnleashBackend
from flags.keys import new_signing_key
from flags.policy import bind_policy
from flags.verdict import envelope_of
from flags.watch import ProbeResult
from harness.errors import GateRefused
from tests.controller.outage import CuttableProxy
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.controller import controller_serve
from tests.services.postgres import postgres
from tests.services.unleash import UnleashServer, unleash_server
from tests.watch.fakes import ScriptedProbe, leak

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG = "drift-switch"
INTERVAL = 2.0
_VIEWER = Principal("auditor", "viewer")


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


def test_a_flag_turned_on_in_unleash_is_off_within_one_interval(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    direct.ensure_flag(FLAG)
    db = f"sqlite:///{tmp_path / 'controller.db'}"
    key = tmp_path / "controller.key"
    key.write_bytes(new_signing_key().pem())
    # The controller watches flags it knows: one with a (denied) approval row counts.
    from controller.decisions import _approve

    engine = open_engine(db)
    with engine.begin() as conn:
        _approve(conn, FLAG, "development", enabled=False, digest=None, build=None)
    env = {**os.environ, "UNLEASH_ADMIN_TOKEN": unleash.admin_token}
    served = controller_serve(
        db,
        key,
        tmp_path / "serve.log",
        *("--backend", "unleash", "--unleash-url", unleash.url),
        *("--heal-interval", str(INTERVAL), "--env", "development"),
        env=env,
    )
    try:
        with served:
            direct.enable(FLAG, "development")  # someone with the admin token, behind its back
            turned_on = time.monotonic()
            assert direct.status(FLAG, "development").enabled
            while direct.status(FLAG, "development").enabled:
                # one interval, plus a round's own time under a loaded 2-core machine
                assert time.monotonic() - turned_on < INTERVAL * 2 + 3, "still on"
                time.sleep(0.2)
        with engine.connect() as conn:
            rows = conn.execute(select(audit).where(audit.c.action == "drift-disabled")).all()
        assert [(row.flag, row.env) for row in rows] == [(FLAG, "development")]
        assert '"evidence":{' in rows[0].detail
    finally:
        direct.close()


def _approved_on(
    unleash: UnleashServer, tmp_path: Path, flag: str, url: str | None = None
) -> tuple[Controller, str]:
    """A controller (in process) on the real Unleash that pinned and enabled `flag`."""
    backend = UnleashBackend(url or unleash.url, unleash.admin_token)
    backend.ensure_flag(flag)
    engine = open_engine(f"sqlite:///{tmp_path / 'controller.db'}")
    controller = Controller(engine, backend, new_signing_key())
    who = {
        name: principal_for(engine, create_token(engine, name, role))
        for name, role in {"alice": "admin", "bob": "admin", "rita": "release-manager"}.items()
    }
    bound = bind_policy(write_policy(tmp_path / "policy", flag=flag))
    pem = SIGNING.public().pem().decode()
    proposal = controller.propose_pin(who["alice"], flag, bound.digest, [pem])  # type: ignore[arg-type]
    controller.approve_pin(who["bob"], proposal)  # type: ignore[arg-type]
    digest = "5e" * 32
    verdict = make_verdict(bound, build_digest=digest)
    envelope = json.dumps(envelope_of(verdict, SIGNING)).encode()
    controller.enable(who["rita"], flag, "development", envelope)  # type: ignore[arg-type]
    assert backend.status(flag, "development").enabled
    assert heal_once(controller, ["development"]) == []  # as approved: left alone
    return controller, digest


def test_self_heal_turns_off_a_rollout_changed_in_unleash(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    controller, _digest = _approved_on(unleash, tmp_path, "drift-rollout")
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    direct.set_rollout("drift-rollout", "development", 40)  # through Unleash's admin API
    (drift,) = heal_once(controller, ["development"])
    assert drift.why == "rollout 40% where 100% was approved"
    assert drift.evidence is not None
    assert not direct.status("drift-rollout", "development").enabled


def test_self_heal_turns_off_a_live_tag_edited_in_unleash(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    controller, digest = _approved_on(unleash, tmp_path, "drift-tag")
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    # The chaperone-live tag rewritten by hand (here: by enabling with another artefact).
    direct.enable("drift-tag", "development", 100, "0f" * 32)
    assert direct.live_build("drift-tag", "development") == "0f" * 32
    (drift,) = heal_once(controller, ["development"])
    assert drift.why.startswith(f"live artefact 0f0f0f0f0f0f where {digest[:12]}")
    assert not direct.status("drift-tag", "development").enabled


def test_short_unleash_outage_watch_keeps_retrying_until_the_flag_is_off(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    # Issue 25: "four seconds of admin-API outage end watch with exit 2 and the flag still on,
    # with nobody watching". Here Unleash really goes away (its connections are cut) just as
    # the controller's watch finds a leak.
    flag = "outage-switch"
    proxy = CuttableProxy(int(unleash.url.rsplit(":", 1)[1]))
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    try:
        controller, digest = _approved_on(unleash, tmp_path, flag, proxy.url)
        probe = ScriptedProbe([], {1: ProbeResult((leak(),))})
        watcher = Watcher(
            controller, tmp_path / "incidents", lambda _f, _e: probe, backoff=(0.5, 1.0, 2.0)
        )
        proxy.cut()
        cut_at = time.monotonic()
        threading.Timer(4.0, proxy.restore).start()
        watcher.probe_all()

        assert direct.status(flag, "development").enabled  # the store was down: still on
        [alert] = controller.alerts.open(flag)
        assert "may still be ON in development" in alert["message"]
        while controller.status(_VIEWER, flag)["guard"]:
            assert time.monotonic() - cut_at < 60, "the watch gave up"
            time.sleep(0.2)
            watcher.resume()

        assert time.monotonic() - cut_at >= 4.0
        assert not direct.status(flag, "development").enabled
        assert controller.status(_VIEWER, flag)["revoked"] == [digest]
        assert controller.alerts.open(flag) == []
    finally:
        proxy.close()
        direct.close()


def test_self_heal_every_flag_turns_off_an_unleash_flag_the_controller_never_heard_of(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    try:
        direct.enable("shadow-feature", "development")  # through Unleash's admin API
        engine = open_engine(f"sqlite:///{tmp_path / 'controller.db'}")
        controller = Controller(engine, direct, new_signing_key())
        drifts = heal_once(controller, ["development"], every_flag=True)
        assert "shadow-feature" in [drift.flag for drift in drifts]
        assert not direct.status("shadow-feature", "development").enabled
    finally:
        direct.close()


def test_hand_edited_pin_and_revocation_tags_in_unleash_change_nothing_the_controller_decides(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    # Issue 25: "swapping or deleting the pin, deleting a revocation" lived in Unleash tags that
    # the admin token's holder can edit. The controller's pins and revocations are its own
    # tables: tags edited by hand are ignored, and what the edit might switch on is drift.
    flag = "drift-pin-tags"
    controller, digest = _approved_on(unleash, tmp_path, flag)
    rita = Principal("rita", "release-manager")
    assert controller.revoke(rita, flag, digest) == ["development"]
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    try:
        mallory = new_signing_key()
        own = bind_policy(write_policy(tmp_path / "mallory", flag=flag, min_seeds=1))
        direct.set_pin(flag, own.digest, ["development"])  # the pin tag swapped by hand
        assert direct.pin(flag) == own.digest
        assert direct.revoked(flag) == frozenset()  # no revocation tag holds the digest

        pinned = bind_policy(write_policy(tmp_path / "policy", flag=flag))
        again = envelope_of(make_verdict(pinned, build_digest=digest), SIGNING)
        with pytest.raises(GateRefused, match="is revoked"):
            controller.enable(rita, flag, "development", json.dumps(again).encode())
        minted = envelope_of(make_verdict(own, build_digest="7d" * 32), mallory)
        with pytest.raises(GateRefused):
            controller.enable(rita, flag, "development", json.dumps(minted).encode())
        status = controller.status(_VIEWER, flag)
        assert status["pin"]["policy_digest"] == pinned.digest
        assert status["revoked"] == [digest]

        # With the tags edited, the admin token's holder turns it on: self-heal turns it off,
        # and records the hand-edited tags as drift.
        direct.enable(flag, "development", 100, digest)
        assert [d.flag for d in heal_once(controller, ["development"])] == [flag]
        assert not direct.status(flag, "development").enabled
        with controller.engine.connect() as conn:
            [tags] = conn.execute(
                select(audit.c.detail).where(audit.c.action == "drift-trust-tags")
            ).all()
        assert json.loads(tags.detail)["pin"] == own.digest
    finally:
        direct.close()
