"""Issue 25 item 2 and the remaining controller items, through the HTTP API: key rotation with
an overlap window (a pinned key carries an expiry), stage changes along the pinned policy's
rollout_stages (audited), and token administration (list, revoke; admin only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.heal import heal_once
from controller.store import approvals, audit
from flags.keys import SigningKey, new_signing_key
from tests.controller.conftest import FLAG, World
from tests.flags.conftest import SIGNING

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"
ROLLOUT = f"/v1/flags/{FLAG}/envs/production/rollout"


def _actions(world: World) -> list[str]:
    with world.controller.engine.connect() as conn:
        return [row.action for row in conn.execute(select(audit.c.action).order_by(audit.c.seq))]


def _pin(world: World, keys: list[SigningKey], expires: dict[str, str]) -> None:
    body = {
        "policy_digest": world.bound.digest,
        "keys": [key.public().pem().decode() for key in keys],
        "expires": expires,
    }
    proposal = world.client.post(
        f"/v1/flags/{FLAG}/pin-proposals", json=body, headers=world.as_("alice")
    )
    assert proposal.status_code == 200, proposal.text
    number = proposal.json()["proposal"]
    approved = world.client.post(f"/v1/pin-proposals/{number}/approve", headers=world.as_("bob"))
    assert approved.status_code == 200, approved.text


# -- key rotation overlap -------------------------------------------------------------------


def test_key_rotation_overlap_old_key_verifies_until_its_expiry(world: World) -> None:
    new = new_signing_key()
    old_id = SIGNING.public().keyid
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _pin(world, [SIGNING, new], {old_id: soon})
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert list(status["pin"]["key_expiry"]) == [old_id]
    # Within the overlap both the outgoing and the incoming key verify.
    for key in (SIGNING, new):
        answer = world.client.post(ENABLE, content=world.envelope(key), headers=world.as_("rita"))
        assert answer.status_code == 200, answer.text

    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    _pin(world, [SIGNING, new], {old_id: past})
    refused = world.client.post(ENABLE, content=world.envelope(SIGNING), headers=world.as_("rita"))
    assert refused.status_code == 409
    ok = world.client.post(ENABLE, content=world.envelope(new), headers=world.as_("rita"))
    assert ok.status_code == 200, ok.text


def test_key_rotation_never_lets_every_pinned_key_expire(world: World) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {
        "policy_digest": world.bound.digest,
        "keys": [SIGNING.public().pem().decode()],
        "expires": {SIGNING.public().keyid: soon},
    }
    answer = world.client.post(
        f"/v1/flags/{FLAG}/pin-proposals", json=body, headers=world.as_("alice")
    )
    assert answer.status_code == 400
    assert "every pinned key would expire" in answer.json()["error"]


# -- stage changes ---------------------------------------------------------------------------


def test_stage_changes_follow_the_pinned_stages_and_are_audited(
    world: World, tmp_path: Path
) -> None:
    world.pin_staged(tmp_path)
    off_stage = world.client.post(
        ENABLE + "?rollout=30", content=world.envelope(), headers=world.as_("rita")
    )
    assert off_stage.status_code == 409
    enabled = world.client.post(
        ENABLE + "?rollout=10", content=world.envelope(), headers=world.as_("rita")
    )
    assert enabled.status_code == 200, enabled.text
    assert world.backend.status(FLAG, "production").rollout == 10

    skip = world.client.post(ROLLOUT, json={"percent": 100}, headers=world.as_("rita"))
    assert skip.status_code == 409 and "one stage at a time" in skip.json()["error"]
    viewer = world.client.post(ROLLOUT, json={"percent": 50}, headers=world.as_("vic"))
    assert viewer.status_code == 403
    raised = world.client.post(
        ROLLOUT, json={"percent": 50, "reason": "10% clean"}, headers=world.as_("rita")
    )
    assert raised.status_code == 200, raised.text
    assert world.backend.status(FLAG, "production").rollout == 50
    early = world.client.post(ROLLOUT, json={"percent": 100}, headers=world.as_("rita"))
    assert early.status_code == 409 and "of its 3600s watch" in early.json()["error"]
    lowered = world.client.post(ROLLOUT, json={"percent": 10}, headers=world.as_("rita"))
    assert lowered.status_code == 200
    assert world.backend.status(FLAG, "production").rollout == 10

    # The approved rollout moved with each change: self-heal leaves the flag alone.
    assert heal_once(world.controller, ["production"]) == []
    assert world.on()
    actions = _actions(world)
    assert actions.count("stage-changed") == 2 and actions.count("stage-intent") == 2
    with world.controller.engine.connect() as conn:
        row = conn.execute(select(approvals).where(approvals.c.env == "production")).one()
    assert row.rollout == 10 and json.loads(row.stages)[1] == [50, 3600]


def test_stage_change_of_a_flag_that_is_off_is_refused(world: World, tmp_path: Path) -> None:
    world.pin_staged(tmp_path)
    answer = world.client.post(ROLLOUT, json={"percent": 10}, headers=world.as_("rita"))
    assert answer.status_code == 409
    assert not world.on()


# -- token administration --------------------------------------------------------------------


def test_token_admin_lists_and_revokes_tokens_admin_only(world: World) -> None:
    for who in ("rita", "vic", "ci"):
        assert world.client.get("/v1/tokens", headers=world.as_(who)).status_code == 403
        forbidden = world.client.post("/v1/tokens/vic/revoke", headers=world.as_(who))
        assert forbidden.status_code == 403
    listed = world.client.get("/v1/tokens", headers=world.as_("alice"))
    assert listed.status_code == 200
    rows = {row["name"]: row for row in listed.json()["tokens"]}
    assert rows["rita"]["role"] == "release-manager" and rows["rita"]["revoked"] is False
    text = listed.text
    assert all(token not in text for token in world.tokens.values())
    assert "sha256" not in text

    revoked = world.client.post(
        "/v1/tokens/rita/revoke", json={"reason": "left the team"}, headers=world.as_("alice")
    )
    assert revoked.status_code == 200
    assert world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("rita")).status_code == 401
    assert "token-revoked" in _actions(world)
    missing = world.client.post("/v1/tokens/nobody/revoke", headers=world.as_("alice"))
    assert missing.status_code == 400


# -- identity --------------------------------------------------------------------------------


def test_ci_identity_in_the_audit_is_the_token_not_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 25 Low: "the CI identity in the audit is taken from environment variables that
    # anyone can set". The controller's audit names whoever's token made the request.
    for name in ("GITHUB_ACTOR", "CI_COMMIT_AUTHOR", "GITLAB_USER_LOGIN", "USER"):
        monkeypatch.setenv(name, "mallory")
    world.pin()
    submitted = world.client.post(
        f"/v1/flags/{FLAG}/envs/production/verdicts",
        content=world.envelope(),
        headers={**world.as_("ci"), "X-Actor": "mallory", "User-Agent": "mallory"},
    )
    assert submitted.status_code == 200, submitted.text
    with world.controller.engine.connect() as conn:
        row = conn.execute(select(audit).order_by(audit.c.seq.desc()).limit(1)).one()
    assert (row.actor, row.action) == ("ci", "verdict-submitted")
    assert "mallory" not in row.detail
