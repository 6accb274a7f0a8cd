"""The controller through its HTTP API (in process): tokens and roles, pins with four eyes,
enable against pinned keys only, revocation by artefact digest, serialised decisions."""

from __future__ import annotations

import threading

from sqlalchemy import select

from controller.store import audit, tokens
from flags.keys import new_signing_key
from tests.controller.conftest import DIGEST, FLAG, World

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"


def _actions(world: World) -> list[str]:
    with world.controller.engine.connect() as conn:
        return [row.action for row in conn.execute(select(audit.c.action).order_by(audit.c.seq))]


def test_a_request_without_a_valid_token_is_refused(world: World) -> None:
    assert world.client.get(f"/v1/flags/{FLAG}").status_code == 401
    bad = {"Authorization": "Bearer chc_not-a-token"}
    assert world.client.get(f"/v1/flags/{FLAG}", headers=bad).status_code == 401
    assert world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).status_code == 200


def test_tokens_are_stored_only_as_their_sha256(world: World) -> None:
    with world.controller.engine.connect() as conn:
        stored = [tuple(row) for row in conn.execute(select(tokens))]
    text = repr(stored)
    for token in world.tokens.values():
        assert token not in text
    import hashlib

    assert hashlib.sha256(world.tokens["rita"].encode()).hexdigest() in text


def test_ci_may_only_submit_verdicts_and_a_viewer_only_look(world: World) -> None:
    world.pin()
    envelope = world.envelope()
    submitted = world.client.post(
        f"/v1/flags/{FLAG}/envs/production/verdicts", content=envelope, headers=world.as_("ci")
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["digest"] == DIGEST
    for who in ("ci", "vic"):
        assert (
            world.client.post(ENABLE, content=envelope, headers=world.as_(who)).status_code == 403
        )
        revoke = world.client.post(
            f"/v1/flags/{FLAG}/revocations", json={"digest": DIGEST}, headers=world.as_(who)
        )
        assert revoke.status_code == 403
    assert world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("ci")).status_code == 403
    assert not world.on()


def test_a_pin_change_needs_a_second_admin(world: World) -> None:
    body = {
        "policy_digest": world.bound.digest,
        "keys": [new_signing_key().public().pem().decode()],
    }
    url = f"/v1/flags/{FLAG}/pin-proposals"
    assert world.client.post(url, json=body, headers=world.as_("rita")).status_code == 403
    proposal = world.client.post(url, json=body, headers=world.as_("alice")).json()["proposal"]
    same = world.client.post(f"/v1/pin-proposals/{proposal}/approve", headers=world.as_("alice"))
    assert same.status_code == 409
    assert "four eyes" in same.json()["error"]
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["pin"] is None
    ok = world.client.post(f"/v1/pin-proposals/{proposal}/approve", headers=world.as_("bob"))
    assert ok.status_code == 200
    assert _actions(world) == ["pin-proposed", "pin-approved"]


def test_enable_uses_the_pinned_key_and_never_the_enablers(world: World) -> None:
    # The enabler makes their own pair and mints a passing verdict under the pinned policy: the
    # API has no way to hand the controller a key, and the pinned key does not verify it.
    world.pin()
    minted = world.envelope(key=new_signing_key())
    refused = world.client.post(ENABLE, content=minted, headers=world.as_("rita"))
    assert refused.status_code == 409, refused.text
    assert not world.on()
    good = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert good.status_code == 200, good.text
    assert world.on()
    assert _actions(world)[-2:] == ["enable-intent", "enabled"]


def test_enable_without_a_pin_is_refused(world: World) -> None:
    refused = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert refused.status_code == 409
    assert "no pin" in refused.json()["error"]


def test_revocation_is_by_artefact_digest_whatever_the_build_is_called(world: World) -> None:
    world.pin()
    sha = "abc123def4567890abc123def4567890abc12345"
    first = world.client.post(
        ENABLE, content=world.envelope(build=f"build-{sha}"), headers=world.as_("rita")
    )
    assert first.status_code == 200, first.text
    revoked = world.client.post(
        f"/v1/flags/{FLAG}/revocations",
        json={"digest": f"sha256:{DIGEST.upper()} "},
        headers=world.as_("rita"),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["disabled"] == ["production"]
    assert not world.on()
    for label in (f"build-{sha.upper()}", f"build-{sha} ", f"build-{sha[:7]}", "v1.2.0"):
        again = world.client.post(
            ENABLE, content=world.envelope(build=label), headers=world.as_("rita")
        )
        assert again.status_code == 409, label
        assert "revoked" in again.json()["error"]
        assert not world.on()
    other = world.client.post(
        ENABLE,
        content=world.envelope(build="v1.2.1", build_digest="cd" * 32),
        headers=world.as_("rita"),
    )
    assert other.status_code == 200, other.text


def test_a_revoke_during_an_enable_wins(world: World) -> None:
    world.pin()
    world.backend.release.clear()
    results: dict[str, int] = {}

    def enable() -> None:
        response = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
        results["enable"] = response.status_code

    def revoke() -> None:
        response = world.client.post(
            f"/v1/flags/{FLAG}/revocations", json={"digest": DIGEST}, headers=world.as_("alice")
        )
        results["revoke"] = response.status_code

    enabling = threading.Thread(target=enable)
    enabling.start()
    assert world.backend.entered.wait(10)  # the enable is inside its backend call
    revoking = threading.Thread(target=revoke)
    revoking.start()
    revoking.join(0.3)
    world.backend.release.set()
    enabling.join(10)
    revoking.join(10)
    assert results == {"enable": 200, "revoke": 200}
    assert not world.on()
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["revoked"] == [DIGEST]
    assert status["approved"]["production"]["enabled"] is False
    assert _actions(world)[-3:] == ["enabled", "revoked", "disabled"]


def test_a_failed_backend_call_is_compensated_and_audited(world: World) -> None:
    world.pin()

    def broken(*_args: object, **_kw: object) -> None:
        raise OSError("disk full")

    world.backend.enable = broken  # type: ignore[method-assign]
    failed = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert failed.status_code == 409
    assert "turned off" in failed.json()["error"]
    assert not world.on()
    assert _actions(world)[-2:] == ["enable-intent", "enable-failed"]
