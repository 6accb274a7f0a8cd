"""`chaperone selftest`: the detection scorecard. Plants every fault of the reference clinic in
turn, runs the suites where it shows, runs the clean clinic over many seeds, and writes
selftest.json and selftest.html. Each run is a `chaperone run` subprocess, up to --jobs at
once. The plan, the runs and the scoring live in the `selftest` package, the drawing in
reports.selftest_console; this module wires them, and is where the clinic's fault catalog
(`clinic.faults.catalog()`, also `chaperone clinic faults --json`) is handed to the selftest,
which may not import the clinic."""

from __future__ import annotations

import contextlib
import os
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from chaperone.checks import check_out, check_scenarios
from clinic.faults import QUICK, catalog, parse_faults, unknown_fault_message
from harness.childenv import child_env
from harness.errors import ExitCode, UsageError
from harness.profile import load_profile
from harness.suites import SUITE_GROUP
from harness.zygote_client import Zygote, ZygoteUnavailable, start_zygote
from reports.selftest_console import SelftestConsole
from selftest.catalog import FaultCatalog, read_catalog
from selftest.launcher import Launcher
from selftest.machine import load_average, machine_facts
from selftest.plan import CLEAN_GROUP, DEFAULT_CLEAN_SEEDS, SelftestPlan
from selftest.pool import dispatch
from selftest.progress import run_line
from selftest.scorecard import Scorecard, write_scorecard

QUICK_SEEDS = 1
# What a run and its clinic import (`python -X importtime`), with every suite's module but the
# browser's: it imports numpy, whose native threads would make forking unsafe.
PRELOAD = ("chaperone.cli", "chaperone.run_cmd", "clinic.cli")
NOT_PRELOADED = frozenset({"browser"})


def default_jobs() -> int:
    """One run per core, two at most: each run is a harness and a clinic process already."""
    return min(2, os.cpu_count() or 1)


def selftest_command(
    out: Annotated[
        Path, typer.Option(help="Directory for selftest.json, selftest.html and each run.")
    ] = Path("selftest-out"),
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help=f"For CI: the faults of --faults-only (default {', '.join(QUICK)}) "
            f"and {QUICK_SEEDS} clean seed.",
        ),
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(
            help=f"Clean seeds 0..N-1, each scored on its own (default {DEFAULT_CLEAN_SEEDS}; "
            f"--quick: {QUICK_SEEDS}); {CLEAN_GROUP} consecutive seeds share one run."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(help="Runs at once (default: 2, or 1 on a single core).", min=1),
    ] = None,
    browser: Annotated[
        bool, typer.Option("--browser", help="Also run the browser suite (Chromium).")
    ] = False,
    faults_only: Annotated[
        str,
        typer.Option(help="Plant only these faults (comma-separated); default: all of them."),
    ] = "",
    preload: Annotated[
        bool,
        typer.Option(
            help="Start runs and their clinics from one process that has imported them "
            "already (a fork server), saving about 2 CPU-s per run; --no-preload starts "
            "each as a new Python."
        ),
    ] = True,
) -> None:
    """Prove the gate both ways: every planted fault is caught, the clean clinic passes.

    Examples:

      chaperone selftest --out selftest-out

      chaperone selftest --quick --faults-only recording-idor,switch-race --seeds 1

    Exit codes: 0 every fault detected and every clean run clean, 1 otherwise, 2 when a run
    could not be carried out (the clinic did not start, no report came back).
    """
    faults = read_catalog(catalog())
    plan = SelftestPlan(
        catalog=faults,
        faults=_faults(faults, faults_only, quick),
        clean_seeds=_seeds(seeds, quick),
        quick=quick,
        browser=browser,
    )
    check_scenarios(load_profile("clinic"), sorted(plan.scenario_names()))
    out_dir = check_out(out).resolve()
    workers = jobs or default_jobs()
    console = SelftestConsole()
    machine = {**machine_facts(), "load_average_start": load_average()}
    started = time.monotonic()
    runs = plan.runs()
    console.started(len(runs), workers, out_dir)
    with contextlib.ExitStack() as stack:
        zygote = _fork_server(stack, out_dir, machine, preload)
        outcomes = dispatch(
            runs,
            Launcher(out_dir, zygote=zygote.path if zygote else None),
            workers,
            lambda count, total, outcome: console.run_done(count, total, run_line(outcome)),
        )
    if zygote is not None:
        # Stopped now. The kernel charged it every child it reaped, the runs included; what is
        # left is its own (the preload, the serving), which no run's figure holds.
        runs_cpu = sum(o.cpu_seconds for o in outcomes)
        machine["fork_server_cpu_seconds"] = round(max(0.0, zygote.cpu_seconds - runs_cpu), 1)
    machine["load_average_end"] = load_average()
    card = Scorecard.from_outcomes(
        outcomes,
        machine,
        quick=quick,
        seconds=time.monotonic() - started,
        jobs=workers,
    )
    paths = write_scorecard(card, out_dir)
    console.summary(card.as_json(), paths)
    code = card.exit_code()
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))


def _fork_server(
    stack: contextlib.ExitStack, out_dir: Path, machine: dict[str, object], preload: bool
) -> Zygote | None:
    """The fork server, or None (each run a new Python) if not asked for or it would not
    start; the scorecard's machine facts say which, since it changes every run's CPU time."""
    if not preload:
        machine["fork_server"] = "off (--no-preload)"
        return None
    try:
        zygote = stack.enter_context(
            start_zygote(("chaperone",), _preload(), child_env(), out_dir / "zygote.log")
        )
    except ZygoteUnavailable as exc:
        machine["fork_server"] = f"off: {exc.one_line()}"
        return None
    machine["fork_server"] = "on"
    return zygote


def _preload() -> tuple[str, ...]:
    suites = entry_points(group=SUITE_GROUP)
    return PRELOAD + tuple(sorted(ep.module for ep in suites if ep.name not in NOT_PRELOADED))


def _faults(faults: FaultCatalog, spec: str, quick: bool) -> tuple[str, ...]:
    names = parse_faults(spec) or list(faults.quick if quick else faults.faults)
    problem = unknown_fault_message(names)
    if problem:
        raise UsageError(problem, "fix --faults-only or drop it to plant every fault")
    return tuple(dict.fromkeys(names))


def _seeds(seeds: int | None, quick: bool) -> tuple[int, ...]:
    count = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_CLEAN_SEEDS)
    if count < 1:
        raise UsageError(f"--seeds {count} runs no clean build", "pass --seeds 1 or more")
    return tuple(range(count))
