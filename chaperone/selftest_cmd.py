"""`chaperone selftest`: the detection scorecard. Plants every fault of the reference clinic in
turn, runs the suites where it shows, runs the clean clinic over many seeds, and writes
selftest.json and selftest.html. Each run is a `chaperone run` subprocess, up to --jobs at
once. The plan and the scoring live in flags.selftest, the subprocesses in
flags.selftest_runs; this module only prints."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from chaperone.run_cmd import check_out, check_scenarios
from clinic.faults import FAULTS, parse_faults, unknown_fault_message
from flags.selftest import (
    CLEAN_GROUP,
    DEFAULT_CLEAN_SEEDS,
    QUICK_FAULTS,
    RunOutcome,
    Scorecard,
    SelftestPlan,
    load_average,
    machine_facts,
    score_clean,
    score_fault,
    write_scorecard,
)
from flags.selftest_runs import Launcher, dispatch
from harness.errors import ExitCode, UsageError
from harness.profile import load_profile

QUICK_SEEDS = 1


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
            help=f"For CI: the faults of --faults-only (default {', '.join(QUICK_FAULTS)}) "
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
) -> None:
    """Prove the gate both ways: every planted fault is caught, the clean clinic passes.

    Examples:

      chaperone selftest --out selftest-out

      chaperone selftest --quick --faults-only recording-idor,switch-race --seeds 1

    Exit codes: 0 every fault detected and every clean run clean, 1 otherwise, 2 when a run
    could not be carried out (the clinic did not start, no report came back).
    """
    plan = SelftestPlan(
        faults=_faults(faults_only, quick),
        clean_seeds=_seeds(seeds, quick),
        quick=quick,
        browser=browser,
    )
    check_scenarios(load_profile("clinic"), sorted(plan.scenario_names()))
    out_dir = check_out(out).resolve()
    workers = jobs or default_jobs()
    console = Console(soft_wrap=True)  # one line per run, even in a narrow CI log
    machine = {**machine_facts(), "load_average_start": load_average()}
    started = time.monotonic()
    runs = plan.runs()
    console.print(f"selftest: {len(runs)} runs, {workers} at a time -> {out_dir}")
    outcomes = dispatch(runs, Launcher(out_dir), workers, _printer(console))
    machine["load_average_end"] = load_average()
    card = Scorecard.from_outcomes(
        outcomes,
        machine,
        quick=quick,
        seconds=time.monotonic() - started,
        jobs=workers,
    )
    paths = write_scorecard(card, out_dir)
    _summary(card, paths, console)
    code = card.exit_code()
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))


def _faults(spec: str, quick: bool) -> tuple[str, ...]:
    names = parse_faults(spec) or list(QUICK_FAULTS if quick else FAULTS)
    problem = unknown_fault_message(names)
    if problem:
        raise UsageError(problem, "fix --faults-only or drop it to plant every fault")
    return tuple(dict.fromkeys(names))


def _seeds(seeds: int | None, quick: bool) -> tuple[int, ...]:
    count = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_CLEAN_SEEDS)
    if count < 1:
        raise UsageError(f"--seeds {count} runs no clean build", "pass --seeds 1 or more")
    return tuple(range(count))


def _printer(console: Console) -> Callable[[int, int, RunOutcome], None]:
    def done(count: int, total: int, outcome: RunOutcome) -> None:
        label = escape(outcome.planned.label)
        console.print(f"\\[{count}/{total}] {label}: {_line(outcome)}")

    return done


def _line(outcome: RunOutcome) -> str:
    took = f"in {outcome.seconds:.0f}s"
    if outcome.planned.kind == "fault":
        fault = score_fault([outcome])
        if fault.infra_error:
            return f"[bold magenta]ERROR[/] {escape(outcome.infra_error or '')} {took}"
        if fault.detected:
            found = ", ".join(f"{suite} {n}" for suite, n in fault.by_suite.items())
            return f"[bold green]found[/] ({fault.findings} finding(s): {found}) {took}"
        colour = "bold red" if outcome.planned.part == "main" else "yellow"
        return f"[{colour}]nothing found[/] (verdict {fault.verdict}) {took}"
    seeds = score_clean(outcome)
    broken = [s for s in seeds if s.infra_error or s.errored]
    if broken:
        why = broken[0].infra_error or "; ".join(dict.fromkeys(e for s in broken for e in s.errors))
        return f"[bold magenta]ERROR[/] {escape(why)} {took}"
    noisy = [s for s in seeds if s.failed]
    if noisy:
        which = "" if len(seeds) == 1 else f" on {', '.join(s.name for s in noisy)}"
        count = sum(s.findings for s in noisy)
        return f"[bold red]FALSE ALARM[/] ({count} finding(s){which}) {took}"
    return f"[bold green]clean[/] {took}"


def _summary(card: Scorecard, paths: dict[str, Path], console: Console) -> None:
    caught = len(card.faults) - len(card.undetected)
    quiet = len(card.clean) - len(card.noisy_clean)
    console.print(
        f"selftest: {caught}/{len(card.faults)} faults detected, "
        f"{quiet}/{len(card.clean)} clean runs clean, in {card.seconds:.0f}s with "
        f"{card.jobs} job(s) ({card.cpu_seconds:.0f} CPU-s) -> {paths['json']}, {paths['html']}"
    )
    if card.undetected:
        console.print(f"[bold red]missed:[/] {', '.join(card.undetected)}")
    if card.noisy_clean:
        console.print(f"[bold red]clean runs not clean:[/] {', '.join(card.noisy_clean)}")
    for problem in card.infra_errors:
        console.print(f"[bold magenta]error:[/] {escape(problem)}", highlight=False)
