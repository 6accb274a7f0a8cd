"""`chaperone gate`: run every suite the policy requires, write one signed verdict bound to the
build, and (with --enable) turn the flag on only if that verdict passed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chaperone.run_cmd import (
    ExpectWorkersOpt,
    FaultsOpt,
    JoinSecondsOpt,
    MasterHostOpt,
    MasterPortOpt,
    SupportOpt,
    TargetOpt,
    check_out,
    execute,
    load_master,
    target_of,
)
from flags.cli import BackendKind
from flags.cli import enable as enable_flag
from flags.gate import build_verdict, check_target_allowed, gate_options, write_gate_verdict
from flags.policy import DEFAULT_POLICY, Policy, load_policy
from flags.verdict import GateVerdict, gate_key
from harness.config import RunOptions
from harness.engine import RunRequest
from harness.errors import ExitCode, UsageError
from harness.models import Verdict
from harness.profile import LoadedProfile, load_profile
from reports.console import ConsoleReporter

PolicyOpt = Annotated[
    Path, typer.Option(help="Release policy YAML (schema: flags/policy.schema.json).")
]


def gate_command(
    build: Annotated[str, typer.Option(help="Build id the verdict is bound to (required).")],
    policy: PolicyOpt = DEFAULT_POLICY,
    target: TargetOpt = None,
    support_token: SupportOpt = None,
    out: Annotated[Path, typer.Option(help="Directory for verdict.json and the reports.")] = Path(
        "chaperone-gate"
    ),
    seed: Annotated[int, typer.Option(help="First seed; the policy's min_seeds follow it.")] = 0,
    patients: Annotated[
        int | None, typer.Option(help="More patients than the policy's minimum.")
    ] = None,
    faults: FaultsOpt = "",
    timeout: Annotated[
        float, typer.Option(help="Seconds any one suite may take before the gate errors.")
    ] = 900.0,
    load_seconds: Annotated[float, typer.Option(help="Duration of the load suite.")] = 20.0,
    workers: Annotated[int, typer.Option(help="Locust worker processes.")] = 0,
    expect_workers: ExpectWorkersOpt = 0,
    master_bind_host: MasterHostOpt = "127.0.0.1",
    master_bind_port: MasterPortOpt = 0,
    load_join_seconds: JoinSecondsOpt = 30.0,
    enable: Annotated[
        bool, typer.Option("--enable", help="Enable the flag if the gate passes.")
    ] = False,
    env: Annotated[str, typer.Option(help="Environment to enable in.")] = "development",
    backend: Annotated[BackendKind, typer.Option(help="Flag backend for --enable.")] = (
        BackendKind.local
    ),
    state: Annotated[Path, typer.Option(help="Local backend state file.")] = Path(
        ".chaperone/flags-state.json"
    ),
    unleash_url: Annotated[
        str,
        typer.Option(
            envvar="UNLEASH_URL", help="Unleash base URL (admin token from UNLEASH_ADMIN_TOKEN)."
        ),
    ] = ("http://127.0.0.1:4242"),
    rollout: Annotated[
        int | None,
        typer.Option(help="Enable at this percent (default: the policy's first rollout stage)."),
    ] = None,
) -> None:
    """Run every suite the policy requires and write a signed verdict bound to --build.

    The verdict is `error` if any required suite errored, timed out, was skipped or could not
    reach the target; `fail` on any finding or breached SLO; `pass` only otherwise. With
    --enable the flag is turned on (through the same checks as `chaperone flags enable`) only
    on a pass. Without --target the reference clinic is started locally.

    Examples:

      CHAPERONE_GATE_KEY=secret chaperone gate --build 1.4.2

      chaperone gate --build 1.4.2 --enable --env development --backend local

      chaperone gate --build 1.4.2 --faults switch-recording-misattribution   # blocked
    """
    rules = load_policy(policy)
    gate_key()  # a missing signing key is found before any traffic, not after the run
    if target is not None:
        check_target_allowed(rules, target)
    options = gate_options(rules, seed, patients, timeout, load_seconds, workers)
    load = load_master(expect_workers, master_bind_host, master_bind_port, load_join_seconds)
    options = options.model_copy(update=load)
    loaded = load_profile(rules.profile, relative_to=Path(policy).parent)
    out_dir = check_out(out)
    with target_of(target, support_token, faults, loaded) as (url, token):
        verdict, verdict_path = run_gate(rules, url, token, build, out_dir, options, loaded)
    if verdict.verdict != Verdict.PASS.value:
        raise typer.Exit(int(ExitCode.ERROR if verdict.verdict == "error" else ExitCode.FAIL))
    if enable:
        enable_after_gate(
            rules, policy, verdict_path, build, env, backend, state, unleash_url, rollout
        )


def run_gate(
    rules: Policy,
    url: str,
    token: str,
    build: str,
    out_dir: Path,
    options: RunOptions,
    profile: LoadedProfile | None = None,
) -> tuple[GateVerdict, Path]:
    """Run the suites through the console reporter, write the reports and the signed verdict."""
    check_target_allowed(rules, url)
    reporter = ConsoleReporter(secrets=[token])
    loaded = profile or load_profile(rules.profile)
    request = RunRequest(url, options, out_dir, token, profile=loaded, build=build)
    result, paths = execute(request, reporter)
    verdict = build_verdict(rules, result, build, url)
    verdict_path = write_gate_verdict(verdict, out_dir)
    reporter.summary(result, paths)
    console = Console()
    console.print(f"gate verdict: {verdict.verdict} for build {build} -> {verdict_path}")
    if verdict.verdict != Verdict.PASS.value:
        console.print(f"{rules.flag} stays off: " + _why(verdict.suites))
    return verdict, verdict_path


def _why(suites: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {result}" for name, result in suites.items() if result != "pass")


def enable_after_gate(
    rules: Policy,
    policy: Path,
    verdict: Path,
    build: str,
    env: str,
    backend: BackendKind,
    state: Path,
    unleash_url: str,
    rollout: int | None,
) -> None:
    percent = rollout if rollout is not None else rules.rollout_stages[0].percent
    if not 1 <= percent <= 100:
        raise UsageError(f"--rollout {percent} is not a percentage", "pass 1..100")
    enable_flag(
        name=rules.flag,
        env=env,
        verdict=verdict,
        build=build,
        policy=policy,
        rollout=percent,
        backend=backend,
        state=state,
        bootstrap_out=None,
        unleash_url=unleash_url,
        audit_path=None,
        actor=None,
    )
