"""`chaperone gate`: run every suite the policy requires, write one signed verdict bound to the
build, and (with --enable) turn the flag on only if that verdict passed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from chaperone.checks import check_media, check_out, load_master
from chaperone.gating import Where, enable_after_gate, run_gate
from chaperone.options import (
    ExpectWorkersOpt,
    FaultsOpt,
    FlagsDir,
    JoinSecondsOpt,
    ListenOpt,
    MasterHostOpt,
    MasterPortOpt,
    MediaOpt,
    SupportOpt,
    TargetOpt,
)
from chaperone.sizes import PopulationOpt, check_policy_population, population_of
from chaperone.targets import notification_sinks, reports_reference, target_of
from flags.backends.kinds import BackendKind
from flags.gate import (
    check_target_allowed,
    discard_old_verdict,
    gate_options,
    reference_only,
)
from flags.keys import load_signing_key
from flags.policy import DEFAULT_POLICY, Policy, bind_policy
from harness.errors import ExitCode, UsageError
from harness.models import Verdict
from harness.profile import LoadedProfile, load_profile
from reports.flags_console import FlagsConsole

PolicyOpt = Annotated[
    Path, typer.Option(help="Release policy YAML (schema: flags/policy.schema.json).")
]
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def gate_command(
    build: Annotated[str, typer.Option(help="Build id the verdict is bound to (required).")],
    policy: PolicyOpt = DEFAULT_POLICY,
    target: TargetOpt = None,
    support_token: SupportOpt = None,
    listen: ListenOpt = "",
    out: Annotated[Path, typer.Option(help="Directory for verdict.json and the reports.")] = Path(
        "chaperone-gate"
    ),
    seed: Annotated[int, typer.Option(help="First seed; the policy's min_seeds follow it.")] = 0,
    population: PopulationOpt = None,
    patients: Annotated[
        int | None,
        typer.Option(
            help="Alias of --population patient=N (more than the policy's minimum), where the "
            "profile has that role.",
            min=2,
            max=10_000,
        ),
    ] = None,
    faults: FaultsOpt = "",
    media: MediaOpt = "header",
    timeout: Annotated[
        float,
        typer.Option(
            help="Seconds any one suite may take before the gate errors.", min=1, max=86_400
        ),
    ] = 900.0,
    load_seconds: Annotated[
        float, typer.Option(help="Duration of the load suite.", min=1, max=3_600)
    ] = 20.0,
    workers: Annotated[int, typer.Option(help="Locust worker processes.", min=0, max=32)] = 0,
    expect_workers: ExpectWorkersOpt = 0,
    master_bind_host: MasterHostOpt = "127.0.0.1",
    master_bind_port: MasterPortOpt = 0,
    load_join_seconds: JoinSecondsOpt = 30.0,
    signing_key_file: Annotated[
        Path | None,
        typer.Option(
            help="The gate's Ed25519 private key (PEM). Default: CHAPERONE_GATE_SIGNING_KEY.",
            show_default=False,
        ),
    ] = None,
    build_digest: Annotated[
        str | None,
        typer.Option(help="sha256 of the build artefact (default: sha256 of the build id)."),
    ] = None,
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
    flags_dir: FlagsDir = None,
    unleash_url: Annotated[
        str,
        typer.Option(
            envvar="UNLEASH_URL", help="Unleash base URL (admin token from UNLEASH_ADMIN_TOKEN)."
        ),
    ] = ("http://127.0.0.1:4242"),
    rollout: Annotated[
        int | None,
        typer.Option(
            help="Enable at this percent (default: the pinned policy's first rollout stage).",
            min=1,
            max=100,
        ),
    ] = None,
) -> None:
    """Run every suite the policy requires and write a signed verdict bound to --build.

    The verdict (verdict.json: an in-toto attestation in a DSSE envelope, signed with the
    gate's Ed25519 key) is `error` if any required suite errored, timed out, was skipped or
    could not reach the target; `fail` on any finding or breached SLO; `pass` only otherwise.
    Without --target the bundled reference clinic is started locally, and the verdict is a
    reference verdict: it proves the harness, not the build, and enables only development. So
    is a verdict against a loopback target the policy does not name, or against a target that
    says it is the bundled clinic.
    With --enable the flag is turned on (through the same checks as `chaperone flags enable`,
    against the policy pinned on the flag) only on a pass.

    Examples:

      CHAPERONE_GATE_SIGNING_KEY="$(cat gate.key)" chaperone gate --build 1.4.2

      CHAPERONE_SUPPORT_TOKEN=... chaperone gate --build 1.4.2 --target https://clinic.staging.example

      chaperone gate --build 1.4.2 --faults switch-recording-misattribution   # blocked

      chaperone gate --build 1.4.2 --media real   # real calls; the verdict says media: real
    """
    key = load_signing_key(signing_key_file)  # a bad key is found before any traffic
    bound = bind_policy(policy)
    if build_digest is not None and not _SHA256.match(build_digest):
        raise UsageError(f"--build-digest '{build_digest}' is not a sha256", "pass 64 hex digits")
    if target is not None:
        check_target_allowed(bound.policy, target)
    loaded = load_profile(bound.policy.profile_path(policy))
    checked_media = check_media(loaded, media)
    more = population_of(loaded.profile, population or (), patients=patients)
    options = gate_options(bound.policy, seed, more, timeout, load_seconds, workers, checked_media)
    check_policy_population(loaded.profile, options.population)
    load = load_master(expect_workers, master_bind_host, master_bind_port, load_join_seconds)
    options = options.model_copy(update=load)
    out_dir = check_out(out)
    discard_old_verdict(out_dir)
    with (
        notification_sinks(loaded, listen, target) as sinks,
        target_of(target, support_token, faults, loaded, sinks, media) as (url, token),
    ):
        verdict, verdict_path = run_gate(
            bound,
            url,
            token,
            build,
            out_dir,
            options,
            key,
            reference=_is_reference(bound.policy, target, url, loaded),
            build_digest=build_digest,
            profile=loaded,
            sinks=sinks,
        )
    if verdict.verdict != Verdict.PASS.value:
        raise typer.Exit(int(ExitCode.ERROR if verdict.verdict == "error" else ExitCode.FAIL))
    if enable:
        where = Where(backend, state, flags_dir, unleash_url)
        enable_after_gate(verdict_path, build, env, where, rollout, key.public(), build_digest)


def _is_reference(policy: Policy, target: str | None, url: str, loaded: LoadedProfile) -> bool:
    if target is None:
        return True
    why = ""
    if reference_only(policy, url):
        why = "a loopback target the policy's allowed_targets does not name"
    elif reports_reference(url, loaded):
        why = "the target says it is the bundled reference clinic"
    if why:
        FlagsConsole().say(f"reference verdict ({why}): it enables development only")
    return bool(why)
