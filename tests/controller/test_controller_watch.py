"""Watch inside the controller (issue 25 item 7): on a leak it disables the flag, revokes the
live artefact's digest and writes the incident, each step recorded; a disable that fails is
retried with backoff and alerted on until it works; a lost target turns the flag off."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from controller import audit as chain
from controller.guard import Watcher
from controller.heal import heal_once
from controller.store import audit, guard_actions
from flags.watch import ProbeResult
from harness.errors import InfrastructureError
from tests.controller.conftest import DIGEST, FLAG, World
from tests.watch.fakes import ScriptedProbe, leak, server_error

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _enabled(world: World) -> None:
    world.pin()
    enabled = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert enabled.status_code == 200, enabled.text
    assert world.on()


def _watcher(world: World, tmp_path: Path, probe: ScriptedProbe, clock: Clock) -> Watcher:
    return Watcher(
        world.controller,
        tmp_path / "incidents",
        lambda _flag, _env: probe,
        interval=1.0,
        target="http://127.0.0.1:9",
        clock=clock,
    )


def _actions(world: World) -> list[tuple[str, str]]:
    with world.controller.engine.connect() as conn:
        rows = conn.execute(select(audit.c.actor, audit.c.action).order_by(audit.c.seq)).all()
    return [(row.actor, row.action) for row in rows]


def _guard(world: World) -> list[tuple[str, str, int]]:
    with world.controller.engine.connect() as conn:
        rows = conn.execute(select(guard_actions).order_by(guard_actions.c.id)).all()
    return [(row.kind, row.step, row.attempts) for row in rows]


def test_watch_leak_disables_then_revokes_the_digest_then_writes_the_incident(
    world: World, tmp_path: Path
) -> None:
    _enabled(world)
    probe = ScriptedProbe([], {2: ProbeResult((leak(),), switched=3)})
    watcher = _watcher(world, tmp_path, probe, Clock())
    watcher.probe_all()
    assert world.on()  # round 1 was clean
    watcher.probe_all()

    assert not world.on()
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["revoked"] == [DIGEST]
    assert status["approved"]["production"]["enabled"] is False
    assert _guard(world) == [("leak", "done", 0)]
    watch_rows = [action for actor, action in _actions(world) if actor == "controller:watch"]
    assert watch_rows == ["leak-detected", "auto-disabled", "revoked", "incident-written"]
    [folder] = (tmp_path / "incidents").iterdir()
    incident = json.loads((folder / "incident.json").read_text())
    assert incident["revoked_build"] == DIGEST
    assert incident["disabled_at"] and incident["exposures"]
    assert "leak in watch round 2" in incident["reason"]
    # The revoked artefact never comes back, and the flag is no longer probed.
    again = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert again.status_code == 409
    watcher.probe_all()
    assert probe.log == ["probe 1", "probe 2"]
    assert chain.verify(world.controller.engine, world.audit_key.public()) == []


def test_watch_never_gives_up_a_disable_that_fails_and_raises_an_alert(
    world: World, tmp_path: Path
) -> None:
    _enabled(world)
    world.backend.failing_disables = 3
    clock = Clock()
    watcher = _watcher(world, tmp_path, ScriptedProbe([], {1: ProbeResult((leak(),))}), clock)
    watcher.probe_all()

    assert world.on()
    assert _guard(world) == [("leak", "disable", 1)]
    alerts = world.client.get("/v1/alerts", headers=world.as_("vic")).json()
    [alert] = alerts["alerts"]
    assert "may still be ON in production" in alert["message"]
    assert "flag store unreachable" in alert["message"]
    assert alerts["guard"][0]["step"] == "disable"
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["alerts"] and status["guard"][0]["last_error"]
    assert ("controller", "alert") in _actions(world)

    watcher.resume()  # within the backoff: no new attempt yet
    assert _guard(world) == [("leak", "disable", 1)]
    for attempt in (2, 3):
        clock.now += 60
        watcher.resume()
        assert _guard(world) == [("leak", "disable", attempt)]
        assert world.on()
    clock.now += 60
    watcher.resume()

    assert not world.on()
    assert _guard(world) == [("leak", "done", 3)]
    assert world.client.get("/v1/alerts", headers=world.as_("vic")).json()["alerts"] == []
    assert ("controller", "alert-cleared") in _actions(world)


def test_watch_turns_the_flag_off_when_the_target_is_lost(world: World, tmp_path: Path) -> None:
    _enabled(world)
    lost = InfrastructureError("connection refused")
    watcher = _watcher(world, tmp_path, ScriptedProbe([], {1: lost}), Clock())
    watcher.probe_all()

    assert not world.on()
    assert _guard(world) == [("target-lost", "done", 0)]
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["revoked"] == []  # nothing proved the artefact leaks
    assert not (tmp_path / "incidents").exists()


def test_watch_resumes_an_unfinished_disable_and_revoke(world: World, tmp_path: Path) -> None:
    """The state a controller killed after its disable leaves (the end-to-end version kills a
    served controller: test_watch_crash.py)."""
    _enabled(world)
    with world.controller.decision() as conn:
        conn.execute(
            guard_actions.insert().values(
                flag=FLAG,
                env="production",
                kind="leak",
                digest=DIGEST,
                reason="leak in watch round 1",
                step="revoke",
                detected_at="2026-01-01T00:00:00+00:00",
                disabled_at="2026-01-01T00:00:01+00:00",
                attempts=0,
            )
        )
    Watcher(world.controller, tmp_path / "incidents").resume()
    assert _guard(world) == [("leak", "done", 0)]
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).json()
    assert status["revoked"] == [DIGEST]
    assert not world.on()


def _staged_on(world: World, tmp_path: Path) -> None:
    world.pin_staged(tmp_path)
    answer = world.client.post(
        ENABLE + "?rollout=10", content=world.envelope(), headers=world.as_("rita")
    )
    assert answer.status_code == 200, answer.text


def test_watch_raises_a_clean_stage_after_its_watch_seconds_and_audits_it(
    world: World, tmp_path: Path
) -> None:
    _staged_on(world, tmp_path)
    probe = ScriptedProbe([], {1: ProbeResult((), switched=0)})
    watcher = Watcher(
        world.controller, tmp_path / "incidents", lambda _f, _e: probe, raise_stages=True
    )
    watcher.probe_all()  # clean, but no patient had the flag: proves nothing
    assert world.backend.status(FLAG, "production").rollout == 10
    watcher.probe_all()
    assert world.backend.status(FLAG, "production").rollout == 50
    watcher.probe_all()  # 50% must be watched for 3600 s first
    assert world.backend.status(FLAG, "production").rollout == 50
    raises = [(actor, action) for actor, action in _actions(world) if action.startswith("stage-")]
    assert raises == [("controller:watch", "stage-intent"), ("controller:watch", "stage-changed")]
    assert heal_once(world.controller, ["production"]) == []


def test_watch_never_raises_a_stage_that_had_a_finding(world: World, tmp_path: Path) -> None:
    _staged_on(world, tmp_path)
    probe = ScriptedProbe([], {1: ProbeResult((server_error(),), switched=2)})
    watcher = Watcher(
        world.controller, tmp_path / "incidents", lambda _f, _e: probe, raise_stages=True
    )
    for _round in range(3):
        watcher.probe_all()
    assert world.backend.status(FLAG, "production").rollout == 10
    assert world.on()


def test_watch_probes_only_the_environments_its_target_serves(world: World, tmp_path: Path) -> None:
    _enabled(world)  # on in production
    probe = ScriptedProbe([], {1: ProbeResult((leak(),))})
    staging = Watcher(
        world.controller, tmp_path / "incidents", lambda _f, _e: probe, envs=["development"]
    )
    staging.probe_all()
    assert probe.log == []
    assert world.on()
