"""Self-heal: a flag turned on behind the controller's back is turned off and recorded as drift
with the flag store's own event as evidence; an approved flag is left alone."""

from __future__ import annotations

import json

from sqlalchemy import select

from controller.heal import heal_once
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
