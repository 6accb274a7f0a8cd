"""`chaperone run`: drive the suites against a target and write report.json, junit.xml and
report.html. With no --target it starts the reference clinic locally (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaperone.checks import (
    build_options,
    check_allowed,
    check_media,
    check_out,
    check_scenarios,
    load_master,
)
from chaperone.options import (
    AllowOpt,
    ExpectWorkersOpt,
    FaultsOpt,
    JoinSecondsOpt,
    ListenOpt,
    MasterHostOpt,
    MasterPortOpt,
    MediaOpt,
    ProfileOpt,
    SuiteOpt,
    SupportOpt,
    TargetOpt,
)
from chaperone.running import execute
from chaperone.sizes import PopulationOpt, SloP95Opt, population_of, slo_of
from chaperone.targets import notification_sinks, profile_of, target_of
from flags.policy import DEFAULT_POLICY
from harness.engine import RunRequest
from harness.errors import ExitCode
from reports.console import ConsoleReporter
from reports.result import exit_code


def run_command(
    target: TargetOpt = None,
    suite: SuiteOpt = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="Only this switch scenario (repeatable), e.g. switch-mid-call, "
            "patient-transferred. Default: all of them.",
            show_default=False,
        ),
    ] = None,
    population: PopulationOpt = None,
    patients: Annotated[
        int | None,
        typer.Option(help="Alias of --population patient=N, where the profile has that role."),
    ] = None,
    clinicians: Annotated[
        int | None,
        typer.Option(help="Alias of --population clinician=N, where the profile has that role."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Makes the run reproducible.")] = 0,
    extra_seeds: Annotated[
        int,
        typer.Option(
            min=0,
            help="Repeat switch and access with N more seeds (seed+1 .. seed+N), as the gate "
            "does for the policy's min_seeds.",
        ),
    ] = 0,
    out: Annotated[
        Path, typer.Option(help="Directory for report.json, junit.xml, report.html.")
    ] = Path("chaperone-out"),
    support_token: SupportOpt = None,
    profile: ProfileOpt = "clinic",
    listen: ListenOpt = "",
    adapter: Annotated[
        str,
        typer.Option(
            help="Target adapter for what YAML cannot say (entry points "
            "chaperone.adapters); the default drives the profile."
        ),
    ] = "profile",
    faults: FaultsOpt = "",
    media: MediaOpt = "header",
    workers: Annotated[int, typer.Option(help="Locust worker processes for --suite load.")] = 0,
    expect_workers: ExpectWorkersOpt = 0,
    master_bind_host: MasterHostOpt = "127.0.0.1",
    master_bind_port: MasterPortOpt = 0,
    load_join_seconds: JoinSecondsOpt = 30.0,
    load_seconds: Annotated[float, typer.Option(help="Duration of --suite load.")] = 20.0,
    calls: Annotated[
        int,
        typer.Option(
            help="--suite load with --media real: this many journey users, each a real call "
            "at once (0: the usual share of the load users).",
            min=0,
            max=200,
        ),
    ] = 0,
    overlap: Annotated[
        bool,
        typer.Option(
            help="Run --suite load beside --suite browser on one seeding (the load's journeys "
            "leave the browser's patients alone) when there are patients enough for both; "
            "--no-overlap runs them one after the other."
        ),
    ] = True,
    build: Annotated[str, typer.Option(help="Build id recorded in the report.")] = "",
    chromium: Annotated[
        str, typer.Option(help="Chromium binary for --suite browser.")
    ] = "/usr/bin/chromium",
    slo_p95: SloP95Opt = None,
    slo_max_error_rate: Annotated[
        float, typer.Option(help="Load SLO: highest failed-request share (0..1).")
    ] = 0.01,
    slo_min_rps: Annotated[float, typer.Option(help="Load SLO: lowest requests/second.")] = 5.0,
    policy: AllowOpt = DEFAULT_POLICY,
    fuzz_examples: Annotated[
        int, typer.Option(help="--suite fuzz: Schemathesis examples per operation and phase.")
    ] = 10,
    fuzz_seconds: Annotated[
        float, typer.Option(help="--suite fuzz: time limit of the suite, in seconds.")
    ] = 300.0,
    shrink_seconds: Annotated[
        float,
        typer.Option(
            help="--suite stateful: how long to shrink its first failure to a minimal "
            "reproduction (on 2 cores it usually gets there in under 30 s); 0 keeps the "
            "failure as found, for a run that only asks whether anything fails.",
            min=0,
            max=3600,
        ),
    ] = 30.0,
    har: Annotated[
        list[Path] | None,
        typer.Option(
            help="A HAR file recorded in the browser: its same-origin GETs are read too "
            "(as every user, then repeated as the others), reported with source `har`."
        ),
    ] = None,
) -> None:
    """Drive the suites against a target, check every byte each actor receives, write reports.

    Examples:

      chaperone run                                   # local clinic, default suites

      chaperone run --faults switch-recording-misattribution   # watch it get caught

      CHAPERONE_SUPPORT_TOKEN=... chaperone run --target http://127.0.0.1:8000 --suite switch

    Exit codes: 0 no findings, 1 findings, 2 error (the verdict is then `error`, never pass).
    """
    check_allowed(policy, target)
    loaded = profile_of(profile)
    check_scenarios(loaded, scenario or ())
    check_media(loaded, media)
    options = build_options(
        suites=suite,
        scenarios=tuple(scenario or ()),
        population=population_of(
            loaded.profile, population or (), patients=patients, clinicians=clinicians
        ),
        seed=seed,
        extra_seeds=tuple(seed + i for i in range(1, extra_seeds + 1)),
        workers=workers,
        **load_master(expect_workers, master_bind_host, master_bind_port, load_join_seconds),
        load_seconds=load_seconds,
        load_calls=calls,
        overlap=overlap,
        chromium=chromium,
        slo=slo_of(slo_p95 or (), slo_max_error_rate, slo_min_rps),
        fuzz_examples=fuzz_examples,
        fuzz_seconds=fuzz_seconds,
        shrink_seconds=shrink_seconds,
        media=media,
    )
    out_dir = check_out(out)
    reporter = ConsoleReporter(secrets=[support_token] if support_token else [])
    with (
        notification_sinks(loaded, listen, target) as sinks,
        target_of(target, support_token, faults, loaded, sinks, media) as (url, token),
    ):
        request = RunRequest(
            url,
            options,
            out_dir,
            token,
            profile=loaded,
            adapter=adapter,
            build=build,
            sinks=sinks,
            har=tuple(har or ()),
        )
        result, paths = execute(request, reporter)
    reporter.summary(result, paths)
    code = exit_code(result)
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))
