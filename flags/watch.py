"""Watch mode: keep probing after the flag is on, kill it on the first leak, and raise the
rollout stage by stage only while every probe stays clean.

    WatchPlan + Probe + FlagBackend --> watch() --> WatchStarted
                                                    RoundDone ...      (one per probe round)
                                                    RolloutRaised / RolloutHeld
                                                    AutoDisabled | TargetLost | FlagTurnedOff
                                                    WatchFinished

watch() is a generator of small events and never prints: the command renders them. A probe
round seeds a small synthetic world, runs a multi-patient audio->video switch and has every
actor look; the oracles judge everything. Disabling is the kill switch, so it needs no verdict,
and a target that stops answering is treated like a leak we can no longer rule out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from flags import actions, audit
from flags.backends.base import FlagBackend, FlagState
from flags.policy import RolloutStage
from harness.errors import ChaperoneError, InfrastructureError, UsageError
from harness.facade import Chaperone
from harness.models import Exposure, Finding
from harness.profile import LoadedProfile
from reports.exposures import build_exposures
from reports.incident import Incident, IncidentExposure, incident_causes, write_incident
from reports.redact import Redactor, redact_finding

WATCH_ACTOR = "chaperone-watch"
# The kill switch is retried this long (seconds) before the watch gives up and exits 3: a short
# Unleash outage must not end a watch with a leaking flag still on.
DISABLE_DEADLINE = 60.0
_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0)
# Actions that mean "the flag was turned on", in Chaperone's audit log and in the backends'
# own event stores (LocalBackend's "enable", Unleash's event type).
_ENABLE_ACTIONS = frozenset({"enable", "feature-environment-enabled"})

# flag-still-on: the watch had a reason to turn the flag off (a leak, a lost target) and could
# not, within its deadline. Someone must act by hand.
Outcome = Literal["clean", "leak", "error", "flag-off", "flag-still-on"]


# -- what a probe round reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    findings: tuple[Finding, ...]
    switched: int = 0  # switches the target performed (the flag was on for that patient)
    refused: int = 0  # switches answered 403: the flag is off for that patient, not an error

    @property
    def leaks(self) -> tuple[Finding, ...]:
        """Only a leak (`Finding.is_leak`) pulls the kill switch."""
        return tuple(f for f in self.findings if f.is_leak)


class Probe(Protocol):
    def __call__(self, round_no: int) -> ProbeResult:
        """Run one probe round. Raises InfrastructureError if the target does not answer."""


# -- the plan and the events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchPlan:
    flag: str
    env: str
    interval: float
    audit_path: Path
    backend_name: str
    rounds: int | None = None
    duration: float | None = None
    stages: tuple[RolloutStage, ...] = ()
    stage_seconds_scale: float = 1.0
    disable_deadline: float = DISABLE_DEADLINE


@dataclass(frozen=True, slots=True)
class WatchStarted:
    flag: str
    env: str
    rollout: int
    at: float


@dataclass(frozen=True, slots=True)
class RoundDone:
    round: int
    rollout: int
    result: ProbeResult
    at: float

    @property
    def clean(self) -> bool:
        return not self.result.findings


@dataclass(frozen=True, slots=True)
class RolloutRaised:
    round: int
    from_percent: int
    to_percent: int
    at: float


@dataclass(frozen=True, slots=True)
class RolloutHeld:
    """A finding that is not a leak (e.g. a server error): no further raise, ever."""

    round: int
    reason: str


@dataclass(frozen=True, slots=True)
class AutoDisabled:
    round: int
    rollout: int
    findings: tuple[Finding, ...]
    detected_at: float
    disabled_at: float | None  # None: the backend refused; the flag may still be on
    reason: str
    error: str = ""
    revoked: str | None = None  # digest of the live build, now revoked
    audit_error: str = ""  # the audit log could not be written (the flag is off regardless)


@dataclass(frozen=True, slots=True)
class TargetLost:
    round: int
    problem: str
    disabled_at: float | None
    error: str = ""
    audit_error: str = ""


@dataclass(frozen=True, slots=True)
class FlagTurnedOff:
    """Someone else turned the flag off mid-watch: nothing left to guard."""

    round: int
    at: float


@dataclass(frozen=True, slots=True)
class WatchFinished:
    outcome: Outcome
    rounds: int
    rollout: int


WatchEvent = (
    WatchStarted
    | RoundDone
    | RolloutRaised
    | RolloutHeld
    | AutoDisabled
    | TargetLost
    | FlagTurnedOff
    | WatchFinished
)


# -- the decision loop ------------------------------------------------------------------------


@dataclass
class _Progress:
    """Where the staged rollout stands: the stage in force, since when, what it exercised."""

    stage: int
    since: float
    switched: int = 0
    held: bool = False
    rollout: int = 0


def watch(
    plan: WatchPlan,
    probe: Probe,
    backend: FlagBackend,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WatchEvent]:
    """Probe every `plan.interval` seconds until a limit, a leak or an error; see module doc."""
    guard = _Guard(plan, backend, clock, sleep)
    start = _require_enabled(plan, backend)
    progress = _Progress(stage=current_stage(plan.stages, start), since=clock(), rollout=start)
    yield WatchStarted(plan.flag, plan.env, start, clock())
    started, round_no = clock(), 0
    while True:
        round_no += 1
        round_start = clock()
        state = yield from _status_or_lost(guard, round_no, progress)
        if not isinstance(state, FlagState):
            yield WatchFinished(state, round_no, progress.rollout)
            return
        if not state.enabled:
            yield FlagTurnedOff(round_no, clock())
            yield WatchFinished("flag-off", round_no - 1, state.rollout)
            return
        progress.rollout = state.rollout
        outcome = yield from _one_round(guard, probe, progress, round_no)
        if outcome is not None:
            yield WatchFinished(outcome, round_no, progress.rollout)
            return
        if _limit_reached(plan, progress, round_no, clock() - started, clock()):
            yield WatchFinished("clean", round_no, progress.rollout)
            return
        sleep(max(0.0, plan.interval - (clock() - round_start)))


def _status(plan: WatchPlan, backend: FlagBackend) -> FlagState:
    try:
        return backend.status(plan.flag, plan.env)
    except InfrastructureError as exc:
        raise InfrastructureError(
            f"flag backend {backend.name} unreachable, the watch cannot guard "
            f"'{plan.flag}': {exc.problem}",
            exc.fix,
        ) from None


def _status_or_lost(
    guard: _Guard, round_no: int, progress: _Progress
) -> Generator[WatchEvent, None, FlagState | Outcome]:
    """The flag's state, asked again with backoff while the backend does not answer: a few
    seconds of Unleash outage must not end the watch with the flag on and nobody watching.
    Past the deadline it fails closed: the kill switch (itself retried), then an outcome."""
    plan, clock = guard.plan, guard.clock
    deadline, pauses = clock() + plan.disable_deadline, iter(_RETRY_PAUSES)
    while True:
        try:
            return _status(plan, guard.backend)
        except InfrastructureError as exc:
            if clock() >= deadline:
                problem = exc.one_line()
                break
            guard.sleep(next(pauses, _RETRY_PAUSES[-1]))
    reason = f"flag backend unreachable in watch round {round_no}, the flag is unguarded"
    error, audit_error = guard.kill(f"{reason}: {problem}")
    lost = TargetLost(
        round_no, f"{reason}: {problem}", None if error else clock(), error, audit_error
    )
    yield lost
    return "error" if lost.disabled_at is not None else "flag-still-on"


def _require_enabled(plan: WatchPlan, backend: FlagBackend) -> int:
    state = _status(plan, backend)
    if not state.enabled:
        raise UsageError(
            f"flag '{plan.flag}' is off in {plan.env}; there is nothing to watch",
            "enable it first (`chaperone gate --enable` or `chaperone flags enable`)",
        )
    return state.rollout


@dataclass
class _Guard:
    """What a round needs to act: the plan, the backend, the audit desk and the clock."""

    plan: WatchPlan
    backend: FlagBackend
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    desk: actions.Desk = field(init=False)

    def __post_init__(self) -> None:
        log = audit.AuditLog(self.plan.audit_path, anchor=self.backend.set_audit_head)
        self.desk = actions.Desk(self.backend, log, audit.identity(WATCH_ACTOR))

    def kill(self, reason: str) -> tuple[str, str]:
        """Turn the flag off, retrying until it is off or the deadline passes. Returns (the
        last error if it is still on, the audit problem if the change went unrecorded)."""
        deadline, pauses = self.clock() + self.plan.disable_deadline, iter(_RETRY_PAUSES)
        while True:
            try:
                actions.disable(
                    self.desk, self.plan.flag, self.plan.env, reason, action="auto-disable"
                )
                return "", ""
            except actions.Unaudited as exc:
                return "", exc.problem
            except (ChaperoneError, OSError) as exc:
                if self.clock() >= deadline:
                    return _one_line(exc), ""
                self.sleep(next(pauses, _RETRY_PAUSES[-1]))

    def revoke_live(self, reason: str) -> tuple[str | None, str]:
        """Revoke the build that is live, so its verdict cannot turn the flag back on.
        Retried like the kill switch; returns (the revoked digest, a problem to report)."""
        deadline, pauses = self.clock() + self.plan.disable_deadline, iter(_RETRY_PAUSES)
        while True:
            try:
                live = self.backend.live_build(self.plan.flag, self.plan.env)
                if live is None:
                    return None, ""
                actions.revoke(self.desk, self.plan.flag, live, None, reason, self.plan.env)
                return live, ""
            except actions.Unaudited as exc:
                return live, exc.problem
            except (ChaperoneError, OSError) as exc:
                if self.clock() >= deadline:
                    return None, f"revocation failed: {_one_line(exc)}"
                self.sleep(next(pauses, _RETRY_PAUSES[-1]))


def _one_line(exc: ChaperoneError | OSError) -> str:
    if isinstance(exc, ChaperoneError):
        return exc.one_line()
    return f"{exc.strerror or type(exc).__name__} ({getattr(exc, 'filename', None) or 'disk'})"


def _lost_because(exc: Exception) -> str:
    """Why a round proved nothing; every such round fails closed like a target that is down."""
    if isinstance(exc, InfrastructureError):
        return exc.one_line()
    if isinstance(exc, UsageError):
        # The profile was fine when the watch connected (`check`): a target that now answers
        # something its profile cannot read (an HTML page for its OpenAPI document) changed.
        return f"the target stopped matching its profile: {exc.problem}"
    if isinstance(exc, ValueError):
        # An HTML error page where JSON was due: not its API any more.
        return f"the target answered garbage ({type(exc).__name__})"
    return "the target timed out"


def _one_round(
    guard: _Guard, probe: Probe, progress: _Progress, round_no: int
) -> Generator[WatchEvent, None, Outcome | None]:
    """Yields this round's events; returns an outcome if the watch must stop here."""
    try:
        result = probe(round_no)
    except (InfrastructureError, TimeoutError, UsageError, ValueError) as exc:
        lost = _fail_closed(guard, round_no, _lost_because(exc))
        yield lost
        return "error" if lost.disabled_at is not None else "flag-still-on"
    except Exception as exc:
        # A probe that crashed proves nothing either: kill the flag, then surface the bug.
        guard.kill(f"probe failed in watch round {round_no} ({type(exc).__name__})")
        raise
    yield RoundDone(round_no, progress.rollout, result, guard.clock())
    if result.leaks:
        event = _auto_disable(guard, round_no, progress.rollout, result)
        yield event
        return "leak" if event.disabled_at is not None else "flag-still-on"
    progress.switched += result.switched
    if result.findings and not progress.held:
        progress.held = True
        yield RolloutHeld(round_no, f"{len(result.findings)} finding(s): {_names(result)}")
    raised = _maybe_raise(guard, progress, round_no)
    if raised is not None:
        yield raised
    return None


def _names(result: ProbeResult) -> str:
    return ", ".join(sorted({f.kind for f in result.findings}))


def _auto_disable(guard: _Guard, round_no: int, rollout: int, result: ProbeResult) -> AutoDisabled:
    detected = guard.clock()
    first = min(result.leaks, key=lambda f: f.time)
    reason = f"leak in watch round {round_no}: {first.kind} - {first.message}"
    error, audit_error = guard.kill(reason)
    disabled = None if error else guard.clock()
    revoked, revoke_error = guard.revoke_live(reason)
    return AutoDisabled(
        round_no,
        rollout,
        result.findings,
        detected,
        disabled,
        reason,
        error,
        revoked,
        "; ".join(filter(None, (audit_error, revoke_error))),
    )


def _fail_closed(guard: _Guard, round_no: int, problem: str) -> TargetLost:
    reason = f"target unreachable in watch round {round_no}, safety unproven: {problem}"
    error, audit_error = guard.kill(reason)
    return TargetLost(round_no, problem, None if error else guard.clock(), error, audit_error)


# -- staged rollout ---------------------------------------------------------------------------


def current_stage(stages: Sequence[RolloutStage], rollout: int) -> int:
    """Index of the last stage at or below `rollout`; -1 if below the first stage."""
    return max((i for i, s in enumerate(stages) if s.percent <= rollout), default=-1)


def _stage_seconds(plan: WatchPlan, stage: int) -> float:
    return plan.stages[max(stage, 0)].watch_seconds * plan.stage_seconds_scale


def _stage_proven(plan: WatchPlan, progress: _Progress, now: float) -> bool:
    """A stage counts only once its watch period passed clean with at least one real switch:
    rounds in which no patient had the flag prove nothing about the feature."""
    waited = now - progress.since >= _stage_seconds(plan, progress.stage)
    return waited and progress.switched > 0 and not progress.held


def _maybe_raise(
    guard: _Guard, progress: _Progress, round_no: int
) -> RolloutRaised | RolloutHeld | None:
    plan, clock = guard.plan, guard.clock
    following = progress.stage + 1
    if not plan.stages or following >= len(plan.stages):
        return None
    if not _stage_proven(plan, progress, clock()):
        return None
    to = plan.stages[following].percent
    reason = f"stage {progress.rollout}% stayed clean for {clock() - progress.since:.0f}s"
    # A raise reaches more patients: like an enable, it never happens unaudited.
    try:
        with actions.write_ahead(
            guard.desk, "raise-rollout", plan.flag, plan.env, rollout=to, reason=reason
        ):
            after = guard.backend.set_rollout(plan.flag, plan.env, to)
    except audit.AuditError as exc:
        progress.held = True
        return RolloutHeld(round_no, f"the audit log cannot be written ({exc.problem})")
    except InfrastructureError:
        return None  # the backend did not answer: the stage stays, the next round tries again
    event = RolloutRaised(round_no, progress.rollout, after.rollout, clock())
    progress.stage, progress.since, progress.switched = following, clock(), 0
    progress.rollout = after.rollout
    return event


def _limit_reached(
    plan: WatchPlan, progress: _Progress, round_no: int, elapsed: float, now: float
) -> bool:
    if plan.rounds is not None and round_no >= plan.rounds:
        return True
    if plan.duration is not None and elapsed >= plan.duration:
        return True
    if plan.stages:
        # A staged rollout is done once its last stage is proven; the limits only cap it.
        last = progress.stage == len(plan.stages) - 1
        return last and _stage_proven(plan, progress, now)
    return False


# -- the probe against a real target ----------------------------------------------------------


@dataclass
class SwitchProbe:
    """Each round: a fresh small world; every owner runs the profile's feature flows (join,
    switch to video, end, in the clinic); then every user looks at everything it can reach.

    A profile without `feature:` is probed with looks alone; every owner who looked counts as
    having exercised the build (there is no gated flow to tell who had the flag)."""

    target: str
    support_token: str
    owners: int = 3  # users of each role that owns data
    observers: int = 1
    seed: int = 0
    profile: LoadedProfile | str = "clinic"
    adapter: str = "profile"
    _client: Chaperone | None = field(default=None, init=False, repr=False)

    def check(self) -> None:
        """Connect once before the watch starts: a wrong --target or token is a usage
        problem to report, not a reason to pull the flag."""
        self._connect()

    def __call__(self, round_no: int) -> ProbeResult:
        client = self._connect()
        feature = client.adapter.profile.feature
        # A new seed each round gives new usernames, so a partial rollout's hash buckets are
        # sampled afresh instead of testing the same few patients forever.
        client.seed(seed=self.seed + round_no, owners=self.owners, observers=self.observers)
        findings: list[Finding] = []
        switched = refused = 0
        flows = feature.flows if feature is not None else []
        gated = feature.gated if feature is not None else ""
        refusals = feature.refused if feature is not None else []
        for flow in flows:
            for owner in client.owners:
                result = client.act(owner, flow)
                findings += client.judge_all(list(result.observations))
                if flow == gated:
                    switched += int(result.ok)
                    refused += int(result.status in refusals)
        for actor in client.owners + client.observers:
            findings += client.look(actor)
        if feature is None:
            switched = len(client.owners)
        return ProbeResult(tuple(findings), switched=switched, refused=refused)

    def _connect(self) -> Chaperone:
        if self._client is None:
            self._client = Chaperone(
                self.target, self.support_token, self.profile, self.adapter, label="watch"
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(ChaperoneError, TimeoutError):
                self._client.close()
            self._client = None


# -- the incident report ----------------------------------------------------------------------


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def last_enabled(
    flag: str, env: str, backend: FlagBackend, audit_path: Path
) -> tuple[datetime | None, str | None]:
    """When the flag was last turned on in `env`, from Chaperone's audit log and the backend's
    own events (whichever is later), and which of the two said so. Either source may be
    unreadable: the incident is still written with what the other one says."""
    seen: list[tuple[datetime, str]] = []
    with contextlib.suppress(ChaperoneError):
        seen += [
            (e.at, "audit")
            for e in audit.read(audit_path, flag)
            if e.env == env and e.action in _ENABLE_ACTIONS and e.result == "done"
        ]
    with contextlib.suppress(ChaperoneError):
        seen += [
            (e.at, f"{backend.name} backend")
            for e in backend.history(flag)
            if e.at is not None and e.env == env and e.action in _ENABLE_ACTIONS
        ]
    if not seen:
        return None, None
    at, source = max(seen, key=lambda pair: pair[0])
    return at, source


def build_incident(
    event: AutoDisabled,
    plan: WatchPlan,
    backend: FlagBackend,
    target: str,
    secrets: Sequence[str] = (),
) -> Incident:
    mask = Redactor(secrets)
    enabled_at, source = last_enabled(plan.flag, plan.env, backend, plan.audit_path)
    findings = [redact_finding(f, mask) for f in event.findings]
    return Incident(
        flag=plan.flag,
        env=plan.env,
        backend=plan.backend_name,
        target=mask(target),
        round=event.round,
        rollout_at_detection=event.rollout,
        enabled_at=enabled_at,
        enabled_source=source,
        detected_at=_utc(event.detected_at),
        disabled_at=_utc(event.disabled_at) if event.disabled_at is not None else None,
        disable_error=mask(event.error),
        revoked_build=event.revoked,
        audit_error=mask(event.audit_error),
        reason=mask(event.reason),
        exposures=[_exposure(e, mask) for e in build_exposures(event.findings)],
        findings=findings,
        causes=incident_causes(findings),
    )


def _exposure(exposure: Exposure, mask: Redactor) -> IncidentExposure:
    return IncidentExposure(
        owner=exposure.owner,
        observer=exposure.observer,
        what=list(exposure.what),
        surfaces=[mask(s) for s in exposure.surfaces],
        first_seen=_utc(exposure.first_seen),
        last_seen=_utc(exposure.last_seen),
        findings=exposure.findings,
    )


__all__ = [
    "AutoDisabled",
    "FlagTurnedOff",
    "Incident",
    "Probe",
    "ProbeResult",
    "RolloutHeld",
    "RolloutRaised",
    "RoundDone",
    "SwitchProbe",
    "TargetLost",
    "WatchEvent",
    "WatchFinished",
    "WatchPlan",
    "WatchStarted",
    "build_incident",
    "current_stage",
    "last_enabled",
    "watch",
    "write_incident",
]
