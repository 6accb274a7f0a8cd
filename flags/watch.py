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

from pydantic import BaseModel, ConfigDict

from flags import audit
from flags.backends.base import FlagBackend, FlagState
from flags.policy import RolloutStage
from harness.errors import ChaperoneError, InfrastructureError, UsageError
from harness.facade import Chaperone
from harness.models import Exposure, Finding, Severity
from harness.profile import LoadedProfile
from reports.exposures import build_exposures
from reports.files import write_atomic
from reports.redact import Redactor

WATCH_ACTOR = "chaperone-watch"
# Actions that mean "the flag was turned on", in Chaperone's audit log and in the backends'
# own event stores (LocalBackend's "enable", Unleash's event type).
_ENABLE_ACTIONS = frozenset({"enable", "feature-environment-enabled"})

Outcome = Literal["clean", "leak", "error", "flag-off"]


# -- what a probe round reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    findings: tuple[Finding, ...]
    switched: int = 0  # switches the target performed (the flag was on for that patient)
    refused: int = 0  # switches answered 403: the flag is off for that patient, not an error

    @property
    def leaks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if is_leak(f))


def is_leak(finding: Finding) -> bool:
    """Another patient's data reached someone: the only thing that pulls the kill switch."""
    return finding.is_exposure or finding.severity is Severity.CRITICAL


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


@dataclass(frozen=True, slots=True)
class TargetLost:
    round: int
    problem: str
    disabled_at: float | None
    error: str = ""


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
    start = _require_enabled(plan, backend)
    progress = _Progress(stage=current_stage(plan.stages, start), since=clock(), rollout=start)
    yield WatchStarted(plan.flag, plan.env, start, clock())
    started, round_no = clock(), 0
    while True:
        round_no += 1
        round_start = clock()
        state = _status(plan, backend)
        if not state.enabled:
            yield FlagTurnedOff(round_no, clock())
            yield WatchFinished("flag-off", round_no - 1, state.rollout)
            return
        progress.rollout = state.rollout
        outcome = yield from _one_round(plan, probe, backend, progress, round_no, clock)
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


def _require_enabled(plan: WatchPlan, backend: FlagBackend) -> int:
    state = _status(plan, backend)
    if not state.enabled:
        raise UsageError(
            f"flag '{plan.flag}' is off in {plan.env}; there is nothing to watch",
            "enable it first (`chaperone gate --enable` or `chaperone flags enable`)",
        )
    return state.rollout


def _one_round(
    plan: WatchPlan,
    probe: Probe,
    backend: FlagBackend,
    progress: _Progress,
    round_no: int,
    clock: Callable[[], float],
) -> Generator[WatchEvent, None, Outcome | None]:
    """Yields this round's events; returns an outcome if the watch must stop here."""
    try:
        result = probe(round_no)
    except (InfrastructureError, TimeoutError) as exc:
        problem = exc.one_line() if isinstance(exc, ChaperoneError) else "the target timed out"
        yield _fail_closed(plan, backend, round_no, problem, clock)
        return "error"
    except Exception as exc:
        # A probe that crashed proves nothing either: kill the flag, then surface the bug.
        _disable(plan, backend, f"probe failed in watch round {round_no} ({type(exc).__name__})")
        raise
    yield RoundDone(round_no, progress.rollout, result, clock())
    if result.leaks:
        event = _auto_disable(plan, backend, round_no, progress.rollout, result, clock)
        yield event
        return "leak" if event.disabled_at is not None else "error"
    progress.switched += result.switched
    if result.findings and not progress.held:
        progress.held = True
        yield RolloutHeld(round_no, f"{len(result.findings)} finding(s): {_names(result)}")
    raised = _maybe_raise(plan, backend, progress, round_no, clock)
    if raised is not None:
        yield raised
    return None


def _names(result: ProbeResult) -> str:
    return ", ".join(sorted({f.kind for f in result.findings}))


def _auto_disable(
    plan: WatchPlan,
    backend: FlagBackend,
    round_no: int,
    rollout: int,
    result: ProbeResult,
    clock: Callable[[], float],
) -> AutoDisabled:
    detected = clock()
    first = min(result.leaks, key=lambda f: f.time)
    reason = f"leak in watch round {round_no}: {first.kind} - {first.message}"
    error = _disable(plan, backend, reason)
    disabled = None if error else clock()
    return AutoDisabled(round_no, rollout, result.findings, detected, disabled, reason, error)


def _fail_closed(
    plan: WatchPlan,
    backend: FlagBackend,
    round_no: int,
    problem: str,
    clock: Callable[[], float],
) -> TargetLost:
    reason = f"target unreachable in watch round {round_no}, safety unproven: {problem}"
    error = _disable(plan, backend, reason)
    return TargetLost(round_no, problem, None if error else clock(), error)


def _disable(plan: WatchPlan, backend: FlagBackend, reason: str) -> str:
    """Turn the flag off and audit it; returns the error text if the backend failed."""
    try:
        after = backend.disable(plan.flag, plan.env)
        error = "" if not after.enabled else "the backend still reports the flag enabled"
    except ChaperoneError as exc:
        error = exc.one_line()
    if error:
        _audit(plan, "auto-disable", f"{reason}; disable failed: {error}", failed=True)
    else:
        _audit(plan, "auto-disable", reason)
    return error


def _audit(
    plan: WatchPlan, action: str, reason: str, rollout: int | None = None, failed: bool = False
) -> None:
    audit.append(
        plan.audit_path,
        audit.AuditEntry(
            at=audit.now_utc(),
            actor=WATCH_ACTOR,
            action=action,
            flag=plan.flag,
            env=plan.env,
            backend=plan.backend_name,
            result="error" if failed else "done",
            reason=reason,
            rollout=rollout,
        ),
    )


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
    plan: WatchPlan,
    backend: FlagBackend,
    progress: _Progress,
    round_no: int,
    clock: Callable[[], float],
) -> RolloutRaised | None:
    following = progress.stage + 1
    if not plan.stages or following >= len(plan.stages):
        return None
    if not _stage_proven(plan, progress, clock()):
        return None
    to = plan.stages[following].percent
    after = backend.set_rollout(plan.flag, plan.env, to)
    reason = f"stage {progress.rollout}% stayed clean for {clock() - progress.since:.0f}s"
    _audit(plan, "raise-rollout", reason, rollout=after.rollout)
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
    patients: int = 3
    clinicians: int = 1
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
        client.seed(seed=self.seed + round_no, patients=self.patients, clinicians=self.clinicians)
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
            self._client = Chaperone(self.target, self.support_token, self.profile, self.adapter)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(ChaperoneError, TimeoutError):
                self._client.close()
            self._client = None


# -- the incident report ----------------------------------------------------------------------


class IncidentExposure(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str
    observer: str
    what: list[str]
    surfaces: list[str]
    first_seen: datetime
    last_seen: datetime
    findings: int


class IncidentFinding(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    check: str
    kind: str
    severity: str
    observer: str
    owner: str | None
    surface: str
    step: str
    at: datetime
    message: str
    evidence: str


class Incident(BaseModel):
    """incident.json: what a breach notification and a post-incident review need."""

    model_config = ConfigDict(frozen=True)

    flag: str
    env: str
    backend: str
    target: str
    round: int
    rollout_at_detection: int
    enabled_at: datetime | None
    enabled_source: str | None
    detected_at: datetime
    disabled_at: datetime | None
    disable_error: str
    reason: str
    exposures: list[IncidentExposure]
    findings: list[IncidentFinding]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def last_enabled(
    flag: str, env: str, backend: FlagBackend, audit_path: Path
) -> tuple[datetime | None, str | None]:
    """When the flag was last turned on in `env`, from Chaperone's audit log and the backend's
    own events (whichever is later), and which of the two said so."""
    seen: list[tuple[datetime, str]] = [
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
        reason=mask(event.reason),
        exposures=[_exposure(e, mask) for e in build_exposures(event.findings)],
        findings=[_finding(f, mask) for f in event.findings],
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


def _finding(finding: Finding, mask: Redactor) -> IncidentFinding:
    return IncidentFinding(
        key=finding.key,
        check=finding.check,
        kind=finding.kind,
        severity=str(finding.severity),
        observer=finding.observer,
        owner=finding.owner,
        surface=mask(str(finding.surface)),
        step=finding.step,
        at=_utc(finding.time),
        message=mask(finding.message),
        evidence=mask(finding.evidence),
    )


def write_incident(incident: Incident, out: Path) -> tuple[Path, Path]:
    """Writes incident.json and a short incident.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_atomic(out / "incident.json", incident.model_dump_json(indent=2) + "\n")
    md_path = write_atomic(out / "incident.md", incident_markdown(incident))
    return json_path, md_path


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "unknown"


def incident_markdown(incident: Incident) -> str:
    off = _when(incident.disabled_at) if incident.disabled_at else "NOT DISABLED - do it by hand"
    lines = [
        f"# Incident: {incident.flag} leaked patient data in {incident.env}",
        "",
        f"- enabled: {_when(incident.enabled_at)} ({incident.enabled_source or 'no record'})",
        f"- detected: {_when(incident.detected_at)} (watch round {incident.round}, "
        f"rollout {incident.rollout_at_detection}%)",
        f"- disabled: {off}",
        f"- reason: {incident.reason}",
        "",
        "## Exposures (whose data reached whom)",
        "",
        "| owner | observer | what | surfaces | first seen |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.owner} | {e.observer} | {', '.join(e.what)} | {', '.join(e.surfaces)} "
        f"| {_when(e.first_seen)} |"
        for e in incident.exposures
    ]
    lines += ["", f"{len(incident.findings)} finding(s); details in incident.json.", ""]
    return "\n".join(lines)


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
    "is_leak",
    "last_enabled",
    "watch",
    "write_incident",
]
