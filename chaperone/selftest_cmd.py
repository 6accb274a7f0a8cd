"""`chaperone selftest`: the detection scorecard. Plants every fault of the reference clinic in
turn, runs the gate's suites against it, runs the clean clinic over several seeds, and writes
selftest.json and selftest.html. The scoring lives in flags.selftest; this module only prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chaperone.run_cmd import check_out
from clinic.faults import FAULTS, parse_faults, unknown_fault_message
from flags.selftest import (
    PlannedRun,
    RunOutcome,
    Scorecard,
    SelftestPlan,
    execute,
    machine_facts,
    score_clean,
    score_fault,
    write_scorecard,
)
from harness.errors import ExitCode, UsageError

QUICK_SEEDS = 2
FULL_SEEDS = 5


def selftest_command(
    out: Annotated[
        Path, typer.Option(help="Directory for selftest.json, selftest.html and each run.")
    ] = Path("selftest-out"),
    quick: Annotated[
        bool,
        typer.Option("--quick", help="2 clean seeds, fewer patients and examples (for CI)."),
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(help="Clean runs, one per seed 0..N-1 (default 5; --quick: 2)."),
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
    could not be carried out (the clinic did not start, reports could not be written).
    """
    plan = SelftestPlan(
        faults=_faults(faults_only), clean_seeds=_seeds(seeds, quick), quick=quick, browser=browser
    )
    out_dir = check_out(out)
    console = Console(soft_wrap=True)  # one line per run, even in a narrow CI log
    outcomes = _run_all(plan, out_dir, console)
    card = Scorecard.from_outcomes(outcomes, machine_facts(), quick=quick)
    paths = write_scorecard(card, out_dir)
    _summary(card, paths, console)
    code = card.exit_code()
    if code is not ExitCode.PASS:
        raise typer.Exit(int(code))


def _faults(spec: str) -> tuple[str, ...]:
    names = parse_faults(spec) or list(FAULTS)
    problem = unknown_fault_message(names)
    if problem:
        raise UsageError(problem, "fix --faults-only or drop it to plant every fault")
    return tuple(dict.fromkeys(names))


def _seeds(seeds: int | None, quick: bool) -> tuple[int, ...]:
    count = seeds if seeds is not None else (QUICK_SEEDS if quick else FULL_SEEDS)
    if count < 1:
        raise UsageError(f"--seeds {count} runs no clean build", "pass --seeds 1 or more")
    return tuple(range(count))


def _run_all(plan: SelftestPlan, out_dir: Path, console: Console) -> list[RunOutcome]:
    runs = plan.runs()
    outcomes = []
    for index, planned in enumerate(runs, start=1):
        console.print(f"[{index}/{len(runs)}] {_label(planned)}: {', '.join(planned.suites)} ...")
        outcome = execute(plan, planned, out_dir)
        console.print(f"[{index}/{len(runs)}] {_label(planned)}: {_line(outcome)}")
        if outcome.result is not None and outcome.result.interrupted:
            # The engine turns Ctrl-C into an event and carries on; the selftest must stop.
            raise KeyboardInterrupt
        outcomes.append(outcome)
    return outcomes


def _label(planned: PlannedRun) -> str:
    return f"fault {planned.name}" if planned.kind == "fault" else f"clean seed {planned.seed}"


def _line(outcome: RunOutcome) -> str:
    took = f"in {outcome.seconds:.0f}s"
    if outcome.planned.kind == "fault":
        fault = score_fault(outcome)
        if fault.infra_error:
            return f"[bold magenta]ERROR[/] {fault.infra_error}"
        if fault.detected:
            found = f"{fault.findings} finding(s) by {', '.join(fault.suites)}"
            return f"[bold green]detected[/] ({found}) {took}"
        return f"[bold red]MISSED[/] (verdict {fault.verdict}) {took}"
    clean = score_clean(outcome)
    if clean.infra_error or clean.errored:
        why = clean.infra_error or "; ".join(clean.errors)
        return f"[bold magenta]ERROR[/] {why}"
    if clean.failed:
        return f"[bold red]FALSE ALARM[/] ({clean.findings} finding(s)) {took}"
    return f"[bold green]clean[/] {took}"


def _summary(card: Scorecard, paths: dict[str, Path], console: Console) -> None:
    caught = len(card.faults) - len(card.undetected)
    quiet = len(card.clean) - len(card.noisy_clean)
    console.print(
        f"selftest: {caught}/{len(card.faults)} faults detected, "
        f"{quiet}/{len(card.clean)} clean runs clean -> {paths['json']}, {paths['html']}"
    )
    if card.undetected:
        console.print(f"[bold red]missed:[/] {', '.join(card.undetected)}")
    for problem in card.infra_errors:
        console.print(f"[bold magenta]error:[/] {problem}", markup=True, highlight=False)
