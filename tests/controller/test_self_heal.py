"""Self-heal: a flag turned on behind the controller's back is turned off and recorded as drift
with the flag store's own event as evidence; an approved flag is left alone."""

from __future__ import annotations

import json

from sqlalchemy import select

from controller.heal import Healer, heal_once
from controller.store import audit
from tests.controller.conftest import FLAG, World

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"


def test_a_flag_turned_on_directly_is_turned_off_as_drift(world: World) -> None:
    world.pin()
    world.backend.enable(FLAG, "production")  # straight to the store, no controller
    assert world.on()
    (drift,) = heal_once(world.controller, ["development", "production"])
    assert (drift.flag, drift.env) == (FLAG, "production")
    assert drift.evidence is not None and drift.evidence.action
    assert not world.on()
    with world.controller.engine.connect() as conn:
        last = conn.execute(select(audit).order_by(audit.c.seq.desc()).limit(1)).one()
    assert (last.action, last.env, last.actor) == (
        "drift-disabled",
        "production",
        "controller:self-heal",
    )
    assert json.loads(last.detail)["evidence"]["action"] == drift.evidence.action
    assert heal_once(world.controller, ["development", "production"]) == []


def test_an_approved_flag_is_left_on(world: World) -> None:
    world.pin()
    assert (
        world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita")).status_code
        == 200
    )
    assert heal_once(world.controller, ["development", "production"]) == []
    assert world.on()


def _enabled(world: World) -> None:
    world.pin()
    answer = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert answer.status_code == 200, answer.text


def test_self_heal_turns_off_a_rollout_that_differs_from_the_approved_one(world: World) -> None:
    _enabled(world)
    world.backend.set_rollout(FLAG, "production", 30)  # straight to the store
    (drift,) = heal_once(world.controller, ["production"])
    assert drift.why == "rollout 30% where 100% was approved"
    assert not world.on()
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["approved"]["production"]["enabled"] is False


def test_self_heal_turns_off_a_hand_edited_live_artefact_tag(world: World) -> None:
    _enabled(world)
    world.backend.enable(FLAG, "production", 100, "77" * 32)  # the live record rewritten
    (drift,) = heal_once(world.controller, ["production"])
    assert drift.why.startswith("live artefact 777777777777 where abababababab")
    assert not world.on()


def test_a_failed_heal_round_raises_an_alert_until_one_succeeds(world: World) -> None:
    _enabled(world)
    healer = Healer(world.controller, ["production"], 5.0)
    world.backend.state_path.write_text("{ not json")  # the store is unreadable
    assert healer.round() is False
    [alert] = world.client.get("/v1/alerts", headers=world.as_("vic")).json()["alerts"]
    assert alert["message"].startswith("a self-heal round failed (")
    with world.controller.engine.connect() as conn:
        actions = [row.action for row in conn.execute(select(audit.c.action))]
    assert "alert" in actions
    world.backend.state_path.unlink()
    world.backend.declare_environments(["development", "production"])
    assert healer.round() is True
    assert world.client.get("/v1/alerts", headers=world.as_("vic")).json()["alerts"] == []


def test_self_heal_every_flag_turns_off_a_flag_the_controller_never_heard_of(
    world: World,
) -> None:
    world.backend.enable("shadow-feature", "production")  # never pinned, never approved
    assert heal_once(world.controller, ["production"]) == []  # not watched by default
    (drift,) = heal_once(world.controller, ["production"], every_flag=True)
    assert (drift.flag, drift.why) == ("shadow-feature", "on without the controller's approval")
    assert not world.backend.status("shadow-feature", "production").enabled


def test_self_heal_records_pin_and_revocation_tags_edited_by_hand_as_drift(world: World) -> None:
    # Issue 25: "Unleash tags edited by hand". The controller never writes pin or revocation
    # records to the store, so any that appear were written by hand: ignored for every
    # decision, and audited as drift once per change (not once per round).
    world.pin()
    envs = ["development", "production"]

    def tag_rows() -> list[dict[str, object]]:
        with world.controller.engine.connect() as conn:
            rows = conn.execute(
                select(audit.c.detail, audit.c.actor)
                .where(audit.c.action == "drift-trust-tags")
                .order_by(audit.c.seq)
            ).all()
        assert {row.actor for row in rows} <= {"controller:self-heal"}
        return [json.loads(row.detail) for row in rows]

    heal_once(world.controller, envs)
    assert tag_rows() == []
    world.backend.set_pin(FLAG, "0e" * 32, envs)  # the enabler's own policy, by hand
    heal_once(world.controller, envs)
    heal_once(world.controller, envs)
    [first] = tag_rows()
    assert (first["pin"], first["revoked"]) == ("0e" * 32, [])
    world.backend.revoke(FLAG, "1f" * 32)
    heal_once(world.controller, envs)
    assert [row["revoked"] for row in tag_rows()] == [[], ["1f" * 32]]
    # Ignored: the controller's own pin still decides.
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["pin"]["policy_digest"] == world.bound.digest
    enabled = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert enabled.status_code == 200, enabled.text
