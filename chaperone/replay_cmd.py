"""`chaperone replay`: re-run one finding's reproduction and say whether it still reproduces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from chaperone.checks import check_allowed
from chaperone.options import AllowOpt, FaultsOpt, SupportOpt, TargetOpt
from chaperone.targets import target_of
from flags.policy import DEFAULT_POLICY
from harness.adapters import make_target
from harness.aio import LoopThread
from harness.bounded import MAX_DATA_BYTES, read_bounded
from harness.errors import ExitCode
from harness.profile import LoadedProfile, load_profile
from harness.replay import pick_finding, replay
from reports.groups import cause_ids
from reports.json_report import load_report
from reports.terminal import make_console


def replay_command(
    report: Annotated[
        Path,
        typer.Argument(
            help="report.json of an earlier run (its directory must still hold options.json)."
        ),
    ],
    finding: Annotated[
        str,
        typer.Option(
            help="Any id the run showed: a cause's key (the [3f2a9c01be] of its summary), a "
            "finding key from report.json, a unique prefix of either, or a 1-based position."
        ),
    ],
    target: TargetOpt = None,
    support_token: SupportOpt = None,
    faults: FaultsOpt = "",
    profile: Annotated[
        str | None,
        typer.Option(help="Target profile (default: the one the run used, from world.json)."),
    ] = None,
    adapter: Annotated[str, typer.Option(help="Target adapter.")] = "profile",
    policy: AllowOpt = DEFAULT_POLICY,
) -> None:
    """Re-run the minimal steps of one finding against a target.

    Exit 1 if it still reproduces (the leak is still there), 0 if it no longer does, 2 on error.
    Use it to confirm a fix: replay the finding against the fixed build.

    Example:

      chaperone replay out/report.json --finding 3f2a --target http://127.0.0.1:8000
    """
    check_allowed(policy, target)
    result = load_report(report)
    causes = cause_ids(result.findings, result.roles)
    chosen = pick_finding([r.finding for r in result.findings], finding, causes)
    console = make_console()
    console.print(
        f"replaying {chosen.key}: {chosen.kind} {chosen.owner} -> {chosen.observer} "
        f"({len(chosen.repro)} steps, suite {chosen.suite})"
    )
    loaded = _profile(report.parent, profile)
    with target_of(target, support_token, faults, loaded) as (url, token):
        loop = LoopThread()
        driver = make_target(loaded.profile, url, token, None, adapter, str(loaded.directory))
        try:
            outcome = replay(chosen, driver, loop, report.parent)
        finally:
            loop.run(driver.aclose(), timeout=10)
            loop.close()
    if outcome.reproduced:
        console.print(
            f"[bold red]still reproduces[/]: {len(outcome.findings)} matching "
            f"finding(s), e.g. {outcome.findings[0].message}"
        )
        raise typer.Exit(int(ExitCode.FAIL))
    console.print("[green]does not reproduce[/] against this target")
    if outcome.note:
        console.print(f"note: {outcome.note}")


def _profile(run_dir: Path, explicit: str | None) -> LoadedProfile:
    """The profile the run used (kept in world.json), unless one is named."""
    if explicit is not None:
        return load_profile(explicit)
    world = run_dir / "world.json"
    try:
        data = read_bounded(world, "world file", MAX_DATA_BYTES)
        document = json.loads(data).get("profile") or {}
    except (OSError, ValueError, RecursionError):
        document = {}
    if not document:
        return load_profile("clinic")
    copy = run_dir / "profile.used.yaml"
    copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_profile(copy)
