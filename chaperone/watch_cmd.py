"""`chaperone watch`: keep probing a target after the flag is on; disable the flag on the first
leak (or when the target stops answering) and write the incident report; optionally raise the
rollout through the policy's stages while every probe stays clean."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chaperone.run_cmd import FaultsOpt, SupportOpt, TargetOpt, check_out, target_of
from flags import audit
from flags.backends import bootstrap
from flags.backends.base import FlagBackend
from flags.backends.local import DEFAULT_STATE, LocalBackend
from flags.cli import BackendKind, _open_backend
from flags.gate import check_target_allowed
from flags.policy import DEFAULT_POLICY, Policy, load_policy
from flags.watch import (
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

_EXIT = {"clean": ExitCode.PASS, "flag-off": ExitCode.PASS, "leak": ExitCode.FAIL}


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
        bool, typer.Option("--stages", help="Raise the rollout through the policy's stages.")
    ] = False,
    stage_seconds_scale: Annotated[
        float, typer.Option(help="Multiply every stage's watch_seconds (demos, tests).", min=0.0)
    ] = 1.0,
    policy: Annotated[Path, typer.Option(help="Release policy YAML.")] = DEFAULT_POLICY,
    backend: Annotated[BackendKind, typer.Option(help="Where the flag lives.")] = (
        BackendKind.local
    ),
    state: Annotated[Path, typer.Option(help="Local backend state file.")] = DEFAULT_STATE,
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
    patients: Annotated[int, typer.Option(help="Synthetic patients per probe round.", min=2)] = 3,
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
    enablement, detection and disable. If the target stops answering the flag is disabled too,
    since safety can no longer be shown. With --stages the rollout is raised to the next stage
    only after the current stage's watch period stayed clean. Without --target the reference
    clinic is started locally, reading the local backend's flags file.

    Examples:

      chaperone watch --env development --interval 30 --stages

      chaperone watch --faults switch-recording-misattribution --interval 1 --rounds 5

      chaperone watch --target http://staging:8000 --support-token T --duration 3600

    Exit codes: 0 clean (or the flag was turned off by someone else), 1 leak (flag disabled),
    2 error (target or backend unreachable, bad input).
    """
    rules = load_policy(policy)
    loaded = load_profile(rules.profile, relative_to=Path(policy).parent)
    name = flag or rules.flag
    if stages:
        _check_stages(rules, name, env)
    if target is None and backend is not BackendKind.local:
        raise UsageError(
            "without --target the local clinic reads the local backend's flags file",
            "pass --backend local, or --target a clinic wired to Unleash",
        )
    out_dir = check_out(out)
    plan = WatchPlan(
        flag=name,
        env=env,
        interval=interval,
        audit_path=audit_path or state.with_name(audit.DEFAULT_AUDIT.name),
        backend_name=backend.value,
        rounds=rounds,
        duration=duration,
        stages=tuple(rules.rollout_stages) if stages else (),
        stage_seconds_scale=stage_seconds_scale,
    )
    with (
        _open_backend(backend, state, None, unleash_url) as flags,
        _target(target, support_token, faults, flags, plan, loaded) as (url, token),
    ):
        check_target_allowed(rules, url)
        outcome = _run(plan, flags, url, token, patients, seed, out_dir, loaded)
    code = _EXIT.get(outcome, ExitCode.ERROR)  # anything unknown is an error, never a pass
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))


def _check_stages(rules: Policy, flag: str, env: str) -> None:
    if flag != rules.flag:
        raise UsageError(
            f"the policy's stages are for flag '{rules.flag}', not '{flag}'",
            "pass --policy with this flag's policy",
        )
    if env not in rules.environments:
        raise UsageError(
            f"environment '{env}' is not in the policy's environments {rules.environments}",
            "add it to the policy or pick another --env",
        )


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
    # The clinic writes its flags file with the flag ON when the file is missing, so render
    # the backend's real state first: the local clinic must see what the backend says.
    bootstrap.write(flags.bootstrap_out, [flags.status(plan.flag, plan.env)])
    names = tuple(f.strip() for f in faults.split(",") if f.strip())
    with local_clinic(names, flags_file=flags.bootstrap_out) as clinic:
        yield clinic.url, clinic.support_token


def _run(
    plan: WatchPlan,
    flags: FlagBackend,
    url: str,
    token: str,
    patients: int,
    seed: int,
    out: Path,
    profile: LoadedProfile,
) -> str:
    console = Console()
    probe = SwitchProbe(url, token, patients=patients, seed=seed, profile=profile)
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
    console: Console,
    event: AutoDisabled,
    plan: WatchPlan,
    flags: FlagBackend,
    url: str,
    token: str,
    out: Path,
) -> None:
    incident = build_incident(event, plan, flags, url, secrets=[token])
    json_path, md_path = write_incident(incident, out)
    console.print(
        f"incident report: {json_path} ({len(incident.exposures)} exposure(s)), {md_path}"
    )


def _show(console: Console, event: WatchEvent) -> None:
    text = _line(event)
    if text:
        console.print(text, highlight=False)


def _line(event: WatchEvent) -> str:
    match event:
        case WatchStarted(flag=flag, env=env, rollout=rollout):
            return f"watching {flag} in {env} (rollout {rollout}%)"
        case RoundDone():
            return _round_line(event)
        case RolloutRaised(from_percent=low, to_percent=high):
            return f"[green]rollout raised {low}% -> {high}%[/] (previous stage stayed clean)"
        case RolloutHeld(reason=reason):
            return f"[yellow]rollout held:[/] {reason}; it will not be raised again this watch"
        case AutoDisabled():
            return _disabled_line(event)
        case TargetLost():
            return _lost_line(event)
        case FlagTurnedOff():
            return "the flag was turned off by someone else; nothing left to guard"
        case WatchFinished(outcome=outcome, rounds=rounds, rollout=rollout):
            return f"watch finished: {outcome} after {rounds} round(s), rollout {rollout}%"
    return ""


def _round_line(event: RoundDone) -> str:
    result = event.result
    word = "[green]clean[/]" if event.clean else "[red bold]LEAK[/]" if result.leaks else "finding"
    return (
        f"round {event.round}: {word}, rollout {event.rollout}% "
        f"({result.switched} switched, {result.refused} flag-off, "
        f"{len(result.findings)} finding(s))"
    )


def _disabled_line(event: AutoDisabled) -> str:
    if event.disabled_at is None:
        return (
            f"[red bold]LEAK and the flag could NOT be disabled: {event.error}[/] "
            "- disable it by hand now (`chaperone flags disable`)"
        )
    lag = event.disabled_at - event.detected_at
    return f"[red bold]flag auto-disabled[/] {lag:.2f}s after detection: {event.reason}"


def _lost_line(event: TargetLost) -> str:
    if event.disabled_at is None:
        return (
            f"[red bold]target unreachable ({event.problem}) and the flag could NOT be "
            f"disabled: {event.error}[/] - disable it by hand now"
        )
    return (
        f"[red bold]target unreachable[/] ({event.problem}); the flag was disabled because "
        "safety can no longer be shown"
    )
