"""The watch decision loop with a scripted probe, a fake backend and a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from flags import audit
from flags.backends.base import BackendEvent
from flags.policy import RolloutStage
from flags.watch import (
    AutoDisabled,
    FlagTurnedOff,
    ProbeResult,
    RolloutHeld,
    RolloutRaised,
    RoundDone,
    TargetLost,
    WatchEvent,
    WatchFinished,
    WatchPlan,
    build_incident,
    current_stage,
    last_enabled,
    watch,
    write_incident,
)
from harness.errors import InfrastructureError, TargetUnreachable, UsageError
from tests.watch.fakes import FakeBackend, FakeClock, ScriptedProbe, leak, server_error, utc

WATCH = (audit.os_user(), "chaperone-watch")  # who the audit says acted, and for whom

STAGES = (
    RolloutStage(percent=10, watch_seconds=10),
    RolloutStage(percent=50, watch_seconds=10),
    RolloutStage(percent=100, watch_seconds=10),
)


def plan_for(tmp_path: Path, **changes: object) -> WatchPlan:
    fields: dict[str, object] = {
        "flag": "video-switch",
        "env": "development",
        "interval": 5.0,
        "audit_path": tmp_path / "audit.jsonl",
        "backend_name": "fake",
        "rounds": 6,
    }
    fields.update(changes)
    return WatchPlan(**fields)  # type: ignore[arg-type]


def run(
    plan: WatchPlan, probe: ScriptedProbe, backend: FakeBackend, clock: FakeClock
) -> list[WatchEvent]:
    return list(watch(plan, probe, backend, clock=clock, sleep=clock.sleep))


def outcomes(tmp_path: Path) -> list[audit.AuditEntry]:
    """The audit lines that say how an action ended (intents are checked elsewhere)."""
    return [e for e in audit.read(tmp_path / "audit.jsonl") if e.phase != "intent"]


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_leak_on_round_k_disables_before_round_k_plus_1(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log)
    probe = ScriptedProbe(log, {3: ProbeResult((leak(),), switched=3)})
    events = run(plan_for(tmp_path), probe, backend, clock)

    assert log == ["probe 1", "probe 2", "probe 3", "disable", "revoke feed"]
    assert backend.enabled is False
    disabled = next(e for e in events if isinstance(e, AutoDisabled))
    assert disabled.round == 3 and disabled.disabled_at is not None
    assert disabled.disabled_at - disabled.detected_at < plan_for(tmp_path).interval
    assert disabled.revoked == "feed" * 16 and backend.revoked_builds == {"feed" * 16}
    assert events[-1] == WatchFinished("leak", 3, 100)
    entry, revoked = outcomes(tmp_path)
    assert (entry.action, entry.result) == ("auto-disable", "done")
    assert (entry.actor, entry.claimed_actor) == WATCH
    assert "canary-leak" in entry.reason and "p2 received data of patient p0" in entry.reason
    assert (revoked.action, revoked.build_digest, revoked.result) == (
        "revoke",
        "feed" * 16,
        "done",
    )


def test_clean_rounds_never_disable(tmp_path: Path, log: list[str], clock: FakeClock) -> None:
    backend = FakeBackend(log)
    events = run(plan_for(tmp_path, rounds=4), ScriptedProbe(log), backend, clock)

    assert "disable" not in log and backend.enabled is True
    assert [e.round for e in events if isinstance(e, RoundDone)] == [1, 2, 3, 4]
    assert events[-1] == WatchFinished("clean", 4, 100)
    assert clock.now == pytest.approx(1_000.0 + 3 * 5.0)  # slept one interval between rounds


def test_stages_raise_only_after_each_clean_watch_period(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, rollout=10)
    plan = plan_for(tmp_path, rounds=None, stages=STAGES)
    events = run(plan, ScriptedProbe(log), backend, clock)

    raised = [
        (e.round, e.from_percent, e.to_percent) for e in events if isinstance(e, RolloutRaised)
    ]
    # 10 s stages probed every 5 s: round 3 is the first one 10 s into a stage.
    assert raised == [(3, 10, 50), (5, 50, 100)]
    assert events[-1] == WatchFinished("clean", 7, 100)
    entries = audit.read(tmp_path / "audit.jsonl")
    assert [(e.action, e.phase, e.rollout, e.claimed_actor) for e in entries] == [
        ("raise-rollout", "intent", 50, "chaperone-watch"),
        ("raise-rollout", "outcome", 50, "chaperone-watch"),
        ("raise-rollout", "intent", 100, "chaperone-watch"),
        ("raise-rollout", "outcome", 100, "chaperone-watch"),
    ]


def test_round_limit_caps_a_staged_rollout(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, rollout=10)
    events = run(plan_for(tmp_path, rounds=4, stages=STAGES), ScriptedProbe(log), backend, clock)

    assert events[-1] == WatchFinished("clean", 4, 50)
    assert backend.rollout == 50


def test_stage_seconds_scale_shrinks_the_watch_periods(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, rollout=10)
    plan = plan_for(tmp_path, rounds=None, stages=STAGES, stage_seconds_scale=0.0)
    run(plan, ScriptedProbe(log), backend, clock)

    assert log == ["probe 1", "set-rollout 50", "probe 2", "set-rollout 100", "probe 3"]


def test_no_raise_after_any_finding(tmp_path: Path, log: list[str], clock: FakeClock) -> None:
    backend = FakeBackend(log, rollout=10)
    probe = ScriptedProbe(log, {2: ProbeResult((server_error(),), switched=1)})
    plan = plan_for(tmp_path, rounds=8, stages=STAGES)
    events = run(plan, probe, backend, clock)

    assert not any(line.startswith("set-rollout") for line in log)
    assert [e.round for e in events if isinstance(e, RolloutHeld)] == [2]
    assert backend.enabled is True  # a server error is not a leak: held, not killed
    assert events[-1] == WatchFinished("clean", 8, 10)


def test_leak_mid_rollout_disables_and_stops_raising(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, rollout=10)
    probe = ScriptedProbe(log, {4: ProbeResult((leak(),), switched=1)})
    plan = plan_for(tmp_path, rounds=None, stages=STAGES)
    events = run(plan, probe, backend, clock)

    assert log[:6] == ["probe 1", "probe 2", "probe 3", "set-rollout 50", "probe 4", "disable"]
    assert events[-1] == WatchFinished("leak", 4, 50)


def test_a_stage_with_no_switch_exercised_is_not_proven(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, rollout=10)
    nobody = ScriptedProbe(log, default=lambda _n: ProbeResult((), switched=0, refused=3))
    run(plan_for(tmp_path, rounds=6, stages=STAGES), nobody, backend, clock)

    assert backend.rollout == 10 and "set-rollout 50" not in log


def test_unreachable_target_disables_the_flag_and_errors(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log)
    down = TargetUnreachable("http://127.0.0.1:9 did not answer GET /healthz", "check it")
    events = run(plan_for(tmp_path), ScriptedProbe(log, {2: down}), backend, clock)

    assert log == ["probe 1", "probe 2", "disable"]
    lost = next(e for e in events if isinstance(e, TargetLost))
    assert lost.disabled_at is not None and "did not answer" in lost.problem
    assert events[-1].outcome == "error"  # type: ignore[union-attr]
    [entry] = outcomes(tmp_path)
    assert entry.action == "auto-disable" and "target unreachable" in entry.reason
    assert backend.revoked_builds == set()  # a lost target is no proof against the build


def test_a_hung_target_counts_as_unreachable(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log)
    events = run(plan_for(tmp_path), ScriptedProbe(log, {1: TimeoutError()}), backend, clock)

    assert backend.enabled is False
    assert events[-1] == WatchFinished("error", 1, 100)


def test_a_crashed_probe_disables_then_raises(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log)
    with pytest.raises(KeyError):
        run(plan_for(tmp_path), ScriptedProbe(log, {2: KeyError("items")}), backend, clock)

    assert log == ["probe 1", "probe 2", "disable"] and backend.enabled is False
    [entry] = outcomes(tmp_path)
    assert "probe failed in watch round 2 (KeyError)" in entry.reason


def test_a_kill_switch_that_never_works_ends_with_flag_still_on(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    """L9: "leak, flag NOT off" is its own outcome (exit 3), after retrying to the deadline;
    the build is revoked all the same, so no verdict can turn it on again."""
    backend = FakeBackend(log, disable_fails=True)
    probe = ScriptedProbe(log, {1: ProbeResult((leak(),))})
    start = clock.now
    events = run(plan_for(tmp_path, disable_deadline=30.0), probe, backend, clock)

    disabled = next(e for e in events if isinstance(e, AutoDisabled))
    assert disabled.disabled_at is None and "503" in disabled.error
    assert events[-1] == WatchFinished("flag-still-on", 1, 100)
    assert 30.0 <= clock.now - start < 35.0 and log.count("disable") > 10
    assert backend.revoked_builds == {"feed" * 16}
    failed = [e for e in outcomes(tmp_path) if e.action == "auto-disable"]
    assert failed and all(e.result == "error" and "503" in e.reason for e in failed)


def test_the_kill_switch_is_retried_through_a_short_outage(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    """M5: a 3 s Unleash outage no longer ends the watch with the flag on."""
    backend = FakeBackend(log, disable_fails=4)
    probe = ScriptedProbe(log, {1: ProbeResult((leak(),))})
    start = clock.now
    events = run(plan_for(tmp_path), probe, backend, clock)

    disabled = next(e for e in events if isinstance(e, AutoDisabled))
    assert disabled.disabled_at is not None and backend.enabled is False
    assert log.count("disable") == 5 and clock.now - start < 10.0
    assert events[-1] == WatchFinished("leak", 1, 100)


def test_unreachable_backend_is_a_clear_error(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log, reachable=False)
    with pytest.raises(InfrastructureError, match="flag backend fake unreachable"):
        run(plan_for(tmp_path), ScriptedProbe(log), backend, clock)
    assert log == []  # no probe traffic without a kill switch behind it


def test_a_flag_that_is_off_cannot_be_watched(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    with pytest.raises(UsageError, match="is off in development"):
        run(plan_for(tmp_path), ScriptedProbe(log), FakeBackend(log, enabled=False), clock)


def test_flag_turned_off_by_someone_else_ends_the_watch(
    tmp_path: Path, log: list[str], clock: FakeClock
) -> None:
    backend = FakeBackend(log)

    def then_off(round_no: int) -> ProbeResult:
        backend.enabled = False
        return ProbeResult((), switched=1)

    events = run(plan_for(tmp_path), ScriptedProbe(log, default=then_off), backend, clock)
    assert any(isinstance(e, FlagTurnedOff) for e in events)
    assert events[-1] == WatchFinished("flag-off", 1, 100)


@pytest.mark.parametrize(("rollout", "stage"), [(1, -1), (10, 0), (25, 0), (50, 1), (100, 2)])
def test_current_stage(rollout: int, stage: int) -> None:
    assert current_stage(STAGES, rollout) == stage


def test_last_enabled_takes_the_latest_of_audit_and_backend(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for at, env in ((2_000.0, "development"), (3_000.0, "production")):
        audit.AuditLog(path).append(
            at=utc(at),
            actor="alice",
            action="enable",
            flag="video-switch",
            env=env,
            backend="fake",
            result="done",
        )
    backend = FakeBackend([])
    assert last_enabled("video-switch", "development", backend, path) == (utc(2_000.0), "audit")
    backend.events = [BackendEvent(utc(2_500.0), "enable", "video-switch", "development", None)]
    assert last_enabled("video-switch", "development", backend, path) == (
        utc(2_500.0),
        "fake backend",
    )
    assert last_enabled("video-switch", "staging", backend, path) == (None, None)


def test_incident_names_exposures_and_the_three_times(tmp_path: Path) -> None:
    backend = FakeBackend([])
    backend.events = [BackendEvent(utc(900.0), "enable", "video-switch", "development", None)]
    findings = (leak("p2", "p0", 950.0), leak("p2", "p1", 951.0), server_error(952.0))
    event = AutoDisabled(4, 25, findings, 960.0, 960.5, "leak in watch round 4")
    incident = build_incident(event, plan_for(tmp_path), backend, "http://127.0.0.1:1", ["tok"])
    json_path, md_path = write_incident(incident, tmp_path / "out")

    assert (incident.enabled_at, incident.detected_at, incident.disabled_at) == (
        utc(900.0),
        utc(960.0),
        utc(960.5),
    )
    assert [(e.owner, e.observer) for e in incident.exposures] == [("p0", "p2"), ("p1", "p2")]
    assert incident.exposures[0].what == ["patient name"]
    assert len(incident.findings) == 3 and incident.rollout_at_detection == 25
    assert '"owner": "p0"' in json_path.read_text()
    assert "| p0 | p2 | patient name |" in md_path.read_text()


def test_an_incident_says_what_went_wrong_one_line_per_root_cause(tmp_path: Path) -> None:
    """Two patients' names reaching p2 at one look are one bug; the server error is apart."""
    findings = (leak("p2", "p0", 950.0), leak("p2", "p1", 951.0), server_error(952.0))
    event = AutoDisabled(4, 25, findings, 960.0, 960.5, "leak in watch round 4")
    incident = build_incident(event, plan_for(tmp_path), FakeBackend([]), "http://x", [])
    leaked = [c for c in incident.causes if c.owners]
    assert len(leaked) == 1 and len(incident.causes) == 2, incident.causes
    assert leaked[0].owners == ["p0", "p1"] and leaked[0].observers == ["p2"]
    assert sum(c.findings for c in incident.causes) == len(incident.findings)
    json_path, md_path = write_incident(incident, tmp_path / "out")
    text = md_path.read_text()
    assert "## What went wrong: 2 root cause(s)" in text
    assert f"- {leaked[0].title} (2 finding(s), 2 owner(s) -> 1 observer(s))" in text
    assert '"causes"' in json_path.read_text()
