"""`chaperone run`: drive the suites against a target and write report.json, junit.xml and
report.html. With no --target it starts the reference clinic locally (the embedded default)."""

from __future__ import annotations

import contextlib
import difflib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from flags.gate import check_target_allowed
from flags.policy import DEFAULT_POLICY, load_policy
from harness.config import RunOptions, SloThresholds
from harness.engine import RunRequest, run
from harness.errors import ConfigError, ExitCode, UsageError
from harness.events import Interrupted, RunFinished
from harness.local_clinic import local_clinic
from harness.models import Verdict
from harness.profile import LoadedProfile, load_profile
from harness.sinks import Sinks, clinic_wiring, sinks_for
from harness.suites import DEFAULT_SUITES, check_suite_names
from reports.console import ConsoleReporter
from reports.result import RunResult, exit_code
from reports.writer import write_all

TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="Base URL of the staging deployment. Omit it to start the reference clinic locally.",
        show_default=False,
    ),
]
SuiteOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--suite",
        help="Suite to run (repeatable): switch, access, stateful, load, "
        "browser, fuzz. Default: switch, access, stateful.",
        show_default=False,
    ),
]
SupportOpt = Annotated[
    str | None,
    typer.Option(
        envvar="CHAPERONE_SUPPORT_TOKEN",
        help="Token of the target's staging "
        "support API (env CHAPERONE_SUPPORT_TOKEN). Never printed.",
        show_default=False,
    ),
]
AllowOpt = Annotated[
    Path,
    typer.Option(
        "--policy",
        help="Policy whose allowed_targets a --target must match: a run starts by resetting "
        "the target's data, so it only ever goes to staging hosts.",
    ),
]
FaultsOpt = Annotated[
    str,
    typer.Option(
        help="Only without --target: plant these faults in the local clinic "
        "(comma-separated; see `chaperone clinic faults`)."
    ),
]


ExpectWorkersOpt = Annotated[
    int,
    typer.Option(
        help="--suite load: remote Locust workers to wait for; each joins with "
        "`chaperone load-worker --master HOST:PORT` from another machine.",
    ),
]
MasterHostOpt = Annotated[
    str,
    typer.Option(help="--suite load: where the Locust master listens for workers."),
]
MasterPortOpt = Annotated[
    int,
    typer.Option(
        help="--suite load: the master's port (0: a free one, or 5557 with --expect-workers)."
    ),
]


JoinSecondsOpt = Annotated[
    float,
    typer.Option(help="--suite load: how long the master waits for every worker to join."),
]


def load_master(
    expect_workers: int, host: str, port: int, join_seconds: float = 30.0
) -> dict[str, object]:
    """The load master's options, checked as RunOptions checks them."""
    fields: dict[str, object] = {
        "expect_workers": expect_workers,
        "master_bind_host": host,
        "master_bind_port": port,
        "load_join_seconds": join_seconds,
    }
    build_options(suites=("load",), **fields)
    return fields


def check_target(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--target '{target}' is not an http(s) URL",
            "pass something like --target http://127.0.0.1:8000",
        )
    return target.rstrip("/")


def check_allowed(policy: Path, target: str | None) -> None:
    """Refuse a --target outside the policy's allowed_targets before any traffic."""
    if target is not None:
        check_target_allowed(load_policy(policy), check_target(target))


def check_out(out: Path) -> Path:
    """Fail before any traffic is sent if the reports could not be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".chaperone-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to --out {out}: {exc.strerror or exc}", "pass a writable directory"
        ) from None
    return out


def check_scenarios(profile: LoadedProfile, names: Sequence[str]) -> None:
    """Refuse an unknown --scenario before anything runs."""
    from scenarios.switch import all_scenarios

    known = {s.name for s in all_scenarios(profile.profile.scenarios)}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"choose from {', '.join(sorted(known))}"
            )
            raise UsageError(f"unknown scenario '{name}'", hint)


def build_options(**fields: object) -> RunOptions:
    requested = fields.get("suites")
    suites = tuple(map(str, requested)) if isinstance(requested, list | tuple) else ()
    suites = suites or DEFAULT_SUITES
    check_suite_names(suites)
    fields["suites"] = suites
    try:
        return RunOptions(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"--{field.replace('_', '-')}: {error['msg']}", "see --help") from None


def slo_options(list_ms: float, media_ms: float, error_rate: float, rps: float) -> SloThresholds:
    try:
        return SloThresholds(
            recordings_list_p95_ms=list_ms,
            media_first_byte_p95_ms=media_ms,
            max_error_rate=error_rate,
            min_rps=rps,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"SLO {error['loc'][0]}: {error['msg']}", "see --help") from None


ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Target profile: a built-in name (clinic) or a profile YAML describing your app "
        "(see docs/targets.md). `chaperone profile check` shows what it will drive.",
    ),
]


def profile_of(name_or_path: str) -> LoadedProfile:
    return load_profile(name_or_path)


ListenOpt = Annotated[
    str,
    typer.Option(
        help="Where the harness listens for the target's e-mail (SMTP) and text messages (an "
        "SMS webhook), for profiles with `notifications:`: HOST:SMTP_PORT,SMS_PORT. Configure "
        "staging to send there. Default: 127.0.0.1 on free ports (the local clinic is wired "
        "to them itself).",
    ),
]


@contextlib.contextmanager
def notification_sinks(profile: LoadedProfile, listen: str = "") -> Iterator[Sinks | None]:
    """The SMTP and SMS sinks, running, when the profile says notifications arrive there."""
    if profile.profile.notifications is None:
        yield None
        return
    host, smtp_port, sms_port = _listen(listen)
    with sinks_for(profile.profile, host, (smtp_port, sms_port)) as sinks:
        yield sinks


def _listen(spec: str) -> tuple[str, int, int]:
    if not spec:
        return "127.0.0.1", 0, 0
    host, _, ports = spec.rpartition(":")
    smtp, _, sms = ports.partition(",")
    if not host or not smtp.isdigit() or not sms.isdigit():
        raise UsageError(
            f"--listen '{spec}' is not HOST:SMTP_PORT,SMS_PORT",
            "pass something like --listen 0.0.0.0:2525,8025",
        )
    return host, int(smtp), int(sms)


@contextlib.contextmanager
def target_of(
    target: str | None,
    support_token: str | None,
    faults: str,
    profile: LoadedProfile,
    sinks: Sinks | None = None,
) -> Iterator[tuple[str, str]]:
    """Yields (url, support token): the given target, or a freshly started local clinic
    (wired to the notification sinks, when there are any)."""
    if target is not None:
        if faults:
            raise UsageError(
                "--faults only applies to the local clinic", "drop --target or --faults"
            )
        token = support_token or ""
        if profile.profile.needs_support():
            env = profile.profile.support.token_env if profile.profile.support else ""
            token = token or os.environ.get(env, "")
            if not token:
                raise UsageError(
                    f"profile '{profile.profile.name}' uses a staging support API, but no "
                    "support token was given",
                    f"set {env} (or pass --support-token)",
                )
        yield check_target(target), token
        return
    if profile.profile.name != "clinic":
        raise UsageError(
            f"no --target for profile '{profile.profile.name}'",
            "pass --target with the URL of your staging deployment",
        )
    names = tuple(f.strip() for f in faults.split(",") if f.strip())
    with local_clinic(names, extra_args=clinic_wiring(sinks)) as clinic:
        yield clinic.url, clinic.support_token


def execute(request: RunRequest, reporter: ConsoleReporter) -> tuple[RunResult, dict[str, Path]]:
    """Run the engine through the reporter; the reports are written even after Ctrl-C.

    Ctrl-C usually lands inside the engine, which reports it as an event. When it lands in
    the reporter instead, the run is closed here the same way, so the report still says
    `interrupted` with verdict `error` and keeps every finding so far."""
    events = run(request)
    interrupted = False
    try:
        for event in events:
            reporter.handle(event)
    except KeyboardInterrupt:
        interrupted = True
        events.close()  # the engine's own cleanup: cancel requests, close the client
        now = time.time()
        reporter.handle(Interrupted(time=now))
        reporter.handle(RunFinished(verdict=Verdict.ERROR, seconds=0.0, time=now))
    finally:
        reporter.close()
        result = reporter.collector.result()
        paths = write_all(result, request.out_dir, secrets=[request.support_token])
    if interrupted:
        raise KeyboardInterrupt
    return result, paths


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
    patients: Annotated[int, typer.Option(help="Synthetic patients to seed (>= 2).")] = 6,
    clinicians: Annotated[int, typer.Option(help="Synthetic clinicians to seed.")] = 2,
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
    workers: Annotated[int, typer.Option(help="Locust worker processes for --suite load.")] = 0,
    expect_workers: ExpectWorkersOpt = 0,
    master_bind_host: MasterHostOpt = "127.0.0.1",
    master_bind_port: MasterPortOpt = 0,
    load_join_seconds: JoinSecondsOpt = 30.0,
    load_seconds: Annotated[float, typer.Option(help="Duration of --suite load.")] = 20.0,
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
    slo_list_p95_ms: Annotated[
        float, typer.Option(help="Load SLO: p95 of the recordings list, ms.")
    ] = 1500.0,
    slo_media_p95_ms: Annotated[
        float, typer.Option(help="Load SLO: p95 of the media first byte, ms.")
    ] = 1500.0,
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
    options = build_options(
        suites=suite,
        scenarios=tuple(scenario or ()),
        patients=patients,
        clinicians=clinicians,
        seed=seed,
        extra_seeds=tuple(seed + i for i in range(1, extra_seeds + 1)),
        workers=workers,
        **load_master(expect_workers, master_bind_host, master_bind_port, load_join_seconds),
        load_seconds=load_seconds,
        overlap=overlap,
        chromium=chromium,
        slo=slo_options(slo_list_p95_ms, slo_media_p95_ms, slo_max_error_rate, slo_min_rps),
        fuzz_examples=fuzz_examples,
        fuzz_seconds=fuzz_seconds,
    )
    out_dir = check_out(out)
    reporter = ConsoleReporter(secrets=[support_token] if support_token else [])
    with (
        notification_sinks(loaded, listen) as sinks,
        target_of(target, support_token, faults, loaded, sinks) as (url, token),
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
        )
        result, paths = execute(request, reporter)
    reporter.summary(result, paths)
    code = exit_code(result)
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))
