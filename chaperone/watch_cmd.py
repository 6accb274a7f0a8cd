"""`chaperone watch`: keep probing a target after the flag is on; disable the flag on the first
leak (or when the target stops answering) and write the incident report; optionally raise the
rollout through the policy's stages while every probe stays clean."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from chaperone.checks import check_out
from chaperone.options import FaultsOpt, FlagsDir, SupportOpt, TargetOpt, VerifyKeyOpt
from chaperone.targets import target_of
from flags import audit
from flags.backends.base import FlagBackend
from flags.backends.kinds import BackendKind, open_backend
from flags.backends.local import DEFAULT_STATE, LocalBackend
from flags.gate import check_target_allowed
from flags.keys import load_verify_key
from flags.policy import DEFAULT_POLICY, RolloutStage, load_policy
from flags.verdict import EnableRequest, verify_for_enable
from flags.watch import (
    DISABLE_DEADLINE,
    AutoDisabled,
    FlagTurnedOff,
    RolloutHeld,
    RolloutRaised,
    RoundDone,
    SwitchProbe,
    TargetLost,
    WatchEvent,
    WatchFinished,
    WatchPlan,
    WatchStarted,
    build_incident,
    watch,
    write_incident,
)
from harness.errors import ExitCode, InfrastructureError, UsageError
from harness.local_clinic import local_clinic
from harness.profile import LoadedProfile, load_profile
from reports.watch_console import WatchConsole

_EXIT = {
    "clean": ExitCode.PASS,
    "flag-off": ExitCode.PASS,
    "leak": ExitCode.FAIL,
    "flag-still-on": ExitCode.FLAG_STILL_ON,
}


def watch_command(
    env: Annotated[str, typer.Option(help="Environment the flag is on in.")] = "development",
    flag: Annotated[
        str | None, typer.Option(help="Flag to guard (default: the policy's flag).")
    ] = None,
    target: TargetOpt = None,
    support_token: SupportOpt = None,
    faults: FaultsOpt = "",
    interval: Annotated[float, typer.Option(help="Seconds between probe rounds.", min=0.0)] = 30.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.", min=0.0)
    ] = None,
    rounds: Annotated[int | None, typer.Option(help="Stop after this many rounds.", min=1)] = None,
    stages: Annotated[
        bool,
        typer.Option(
            "--stages",
            help="Raise the rollout through the pinned policy's stages (needs --verdict).",
        ),
    ] = False,
    verdict: Annotated[
        Path | None,
        typer.Option(
            help="With --stages: the verdict that enabled the live build; its pinned policy "
            "gives the stages."
        ),
    ] = None,
    verify_key: VerifyKeyOpt = None,
    disable_deadline: Annotated[
        float,
        typer.Option(help="Keep retrying the kill switch this many seconds.", min=1.0),
    ] = DISABLE_DEADLINE,
    stage_seconds_scale: Annotated[
        float, typer.Option(help="Multiply every stage's watch_seconds (demos, tests).", min=0.0)
    ] = 1.0,
    policy: Annotated[
        Path, typer.Option(help="Policy whose allowed_targets the probes may reach.")
    ] = DEFAULT_POLICY,
    backend: Annotated[BackendKind, typer.Option(help="Where the flag lives.")] = (
        BackendKind.local
    ),
    state: Annotated[Path, typer.Option(help="Local backend state file.")] = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: Annotated[
        str,
        typer.Option(
            envvar="UNLEASH_URL", help="Unleash base URL (admin token from UNLEASH_ADMIN_TOKEN)."
        ),
    ] = "http://127.0.0.1:4242",
    audit_path: Annotated[
        Path | None,
        typer.Option("--audit", help="Audit log (default: audit.jsonl next to --state)."),
    ] = None,
    owners: Annotated[
        int,
        typer.Option(
            "--owners",
            "--patients",
            help="Synthetic users of each role that owns data, per probe round (--patients: "
            "its old name).",
            min=2,
        ),
    ] = 3,
    seed: Annotated[int, typer.Option(help="First seed; each round uses the next.")] = 0,
    out: Annotated[Path, typer.Option(help="Directory for incident.json / incident.md.")] = Path(
        "chaperone-watch"
    ),
) -> None:
    """Keep probing after enablement; disable the flag on the first leak.

    Every --interval seconds a probe round seeds a small synthetic world, has every patient
    join, switch to video and end, and has every actor look at everything it can reach. A
    switch refused with 403 (flag off for that patient in a partial rollout) is not an error.
    On the first leak the flag is disabled at once (audited as `auto-disable` by
    chaperone-watch) and DIR/incident.json + incident.md name every exposure with the times of
    enablement, detection and disable, and the live build is revoked so its verdict cannot turn
    the flag back on. If the target stops answering the flag is disabled too, since safety can
    no longer be shown. The kill switch is retried until it works or --disable-deadline passes.
    With --stages the rollout is raised through the stages of the policy pinned on the flag
    (read from --verdict, checked with the public key) only after each stage stayed clean.
    Without --target the reference clinic is started locally, reading the local backend's
    flags file for --env.

    Examples:

      chaperone watch --env development --interval 30 --stages --verdict gate/verdict.json

      chaperone watch --faults switch-recording-misattribution --interval 1 --rounds 5

      CHAPERONE_SUPPORT_TOKEN=... chaperone watch --target http://staging:8000 --duration 3600

    Exit codes: 0 clean (or the flag was turned off by someone else), 1 leak (flag disabled),
    2 error (target lost and flag disabled, backend unreachable, bad input), 3 the watch found
    a reason to turn the flag off and could NOT (disable it by hand now).
    """
    rules = load_policy(policy)
    loaded = load_profile(rules.profile_path(policy))
    name = flag or rules.flag
    if target is None and backend is not BackendKind.local:
        raise UsageError(
            "without --target the local clinic reads the local backend's flags file",
            "pass --backend local, or --target a clinic wired to Unleash",
        )
    if stages and verdict is None:
        raise UsageError(
            "--stages raises the rollout through the pinned policy's stages",
            "pass --verdict with the verdict that enabled the live build",
        )
    out_dir = check_out(out)
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        steps = _pinned_stages(flags, name, env, verdict, verify_key) if stages else ()
        plan = WatchPlan(
            flag=name,
            env=env,
            interval=interval,
            audit_path=audit_path or state.with_name(audit.DEFAULT_AUDIT.name),
            backend_name=backend.value,
            rounds=rounds,
            duration=duration,
            stages=steps,
            stage_seconds_scale=stage_seconds_scale,
            disable_deadline=disable_deadline,
        )
        with _target(target, support_token, faults, flags, plan, loaded) as (url, token):
            check_target_allowed(rules, url)
            outcome = _run(plan, flags, url, token, owners, seed, out_dir, loaded)
    code = _EXIT.get(outcome, ExitCode.ERROR)  # anything unknown is an error, never a pass
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))


def _pinned_stages(
    flags: FlagBackend, flag: str, env: str, verdict: Path | None, key_file: Path | None
) -> tuple[RolloutStage, ...]:
    """The stages of the policy pinned on the flag, as carried by a verdict that `flags enable`
    would accept for the live build today: whoever starts the watch cannot choose faster stages
    than the release's, and a verdict enable refuses (expired, revoked, another policy) gives
    none. The one verification function decides both, so a check added there holds here."""
    assert verdict is not None  # checked by the caller
    request = EnableRequest(
        flag=flag,
        env=env,
        build=None,
        pin=flags.pin(flag),
        revoked=flags.revoked(flag),
        now=datetime.now(UTC),
        live_digest=flags.live_build(flag, env),
    )
    proven = verify_for_enable(verdict, load_verify_key(key_file), request)
    return tuple(proven.policy.rollout_stages)


@contextlib.contextmanager
def _target(
    target: str | None,
    support_token: str | None,
    faults: str,
    flags: FlagBackend,
    plan: WatchPlan,
    profile: LoadedProfile,
) -> Iterator[tuple[str, str]]:
    if target is not None:
        with target_of(target, support_token, faults, profile) as pair:
            yield pair
        return
    assert isinstance(flags, LocalBackend)  # checked by the caller
    # The clinic writes its flags file with the flag ON when the file is missing, so the
    # backend's file for this environment must exist first.
    flags_file = flags.ensure_clinic_file(plan.env)
    names = tuple(f.strip() for f in faults.split(",") if f.strip())
    with local_clinic(names, flags_file=flags_file) as clinic:
        yield clinic.url, clinic.support_token


def _run(
    plan: WatchPlan,
    flags: FlagBackend,
    url: str,
    token: str,
    owners: int,
    seed: int,
    out: Path,
    profile: LoadedProfile,
) -> str:
    console = WatchConsole()
    probe = SwitchProbe(url, token, owners=owners, seed=seed, profile=profile)
    try:
        _preflight(probe)
        for event in watch(plan, probe, flags):
            _show(console, event)
            if isinstance(event, AutoDisabled):
                _incident(console, event, plan, flags, url, token, out)
            if isinstance(event, WatchFinished):
                return event.outcome
    finally:
        probe.close()
    return "error"  # the generator always ends with WatchFinished; unknown counts as error


def _preflight(probe: SwitchProbe) -> None:
    try:
        probe.check()
    except InfrastructureError as exc:
        raise InfrastructureError(
            f"{exc.problem} (before the watch started; the flag was left as it is)", exc.fix
        ) from None


def _incident(
    console: WatchConsole,
    event: AutoDisabled,
    plan: WatchPlan,
    flags: FlagBackend,
    url: str,
    token: str,
    out: Path,
) -> None:
    incident = build_incident(event, plan, flags, url, secrets=[token])
    problems: list[str] = []
    # A full disk under --out must not lose the incident: the temporary directory is often
    # another file system (tmpfs).
    fallback = Path(tempfile.gettempdir()) / f"chaperone-incident-{os.getpid()}"
    for where in (out, fallback):
        try:
            json_path, md_path = write_incident(incident, where)
        except OSError as exc:
            problems.append(f"{where}: {exc.strerror or type(exc).__name__}")
            continue
        console.incident(json_path, len(incident.exposures), md_path)
        return
    console.incident_lost("; ".join(problems))


def _show(console: WatchConsole, event: WatchEvent) -> None:
    """Each event's values to the console that draws them."""
    match event:
        case WatchStarted(flag=flag, env=env, rollout=rollout):
            console.started(flag, env, rollout)
        case RoundDone(round=round_no, rollout=rollout, result=result):
            console.round_done(
                round_no,
                rollout,
                clean=event.clean,
                leaks=bool(result.leaks),
                switched=result.switched,
                refused=result.refused,
                findings=len(result.findings),
            )
        case RolloutRaised(from_percent=low, to_percent=high):
            console.raised(low, high)
        case RolloutHeld(reason=reason):
            console.held(reason)
        case AutoDisabled():
            lag = None if event.disabled_at is None else event.disabled_at - event.detected_at
            console.disabled(
                lag=lag,
                reason=event.reason,
                error=event.error,
                revoked=event.revoked,
                audit_error=event.audit_error,
            )
        case TargetLost(problem=problem, disabled_at=disabled_at, error=error):
            console.target_lost(problem, disabled=disabled_at is not None, error=error)
        case FlagTurnedOff():
            console.turned_off()
        case WatchFinished(outcome=outcome, rounds=rounds, rollout=rollout):
            console.finished(outcome, rounds, rollout)
