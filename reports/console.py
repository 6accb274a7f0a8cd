"""The terminal reporter: the only module in Chaperone that writes to the terminal.

On a TTY it shows a rich progress bar per suite and prints findings above it as they arrive.
Elsewhere (CI logs, pipes, `plain=True`) it prints one grep-friendly line per event:

    [switch] started
    [switch] FINDING critical canary-leak p1 -> p2 at json:GET /api/me/recordings - ...
    [switch] fail in 3.2s
    verdict: FAIL (1 finding(s))

The verdict it prints comes from its own `RunCollector`, the same rule every report uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from harness.acceptance import AcceptedExposure
from harness.client.listing import base_route
from harness.events import (
    CaseFinished,
    EngineError,
    Event,
    FindingRaised,
    Interrupted,
    RunFinished,
    RunStarted,
    StepFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Finding, Verdict
from reports.groups import group_findings
from reports.redact import Redactor
from reports.result import RunCollector, RunResult, depth_line
from reports.terminal import make_console
from reports.variants import variant_counts, variant_summary

VERDICT_STYLES = {
    Verdict.PASS: "bold green",
    Verdict.FAIL: "bold red",
    Verdict.ERROR: "bold magenta",
}
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def finding_line(finding: Finding) -> str:
    """severity, kind, owner -> observer, surface: the one-line form of a finding."""
    owner = finding.owner or "-"
    return (
        f"{finding.severity} {finding.kind} {owner} -> {finding.observer} "
        f"at {finding.surface} - {finding.message}"
    )


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


MAX_FINDING_LINES = 30
MAX_GROUP_LINES = 20
MAX_EXPOSURE_ROWS = 40


class ConsoleReporter:
    """Feed it every engine event (`handle`), then call `summary` once reports are written."""

    def __init__(
        self,
        console: Console | None = None,
        plain: bool | None = None,
        secrets: Iterable[str] = (),
        accepted: Sequence[AcceptedExposure] = (),
    ) -> None:
        self.console = console if console is not None else make_console()
        self.plain = not self.console.is_terminal if plain is None else plain
        self.collector = RunCollector(accepted)
        self._mask = Redactor(secrets)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._shown: set[tuple[str, ...]] = set()

    # -- events -------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        self.collector.handle(event)
        match event:
            case RunStarted():
                self._run_started(event)
            case SuiteStarted():
                self._suite_started(event)
            case StepFinished():
                self._advance(event.suite)
            case FindingRaised():
                self._finding(event.suite, event.finding)
            case CaseFinished() if event.verdict is not Verdict.PASS:
                self._line(f"[{event.suite}] case {event.name} {event.verdict}: {event.message}")
            case SuiteFinished():
                self._suite_finished(event)
            case EngineError():
                self._line(f"[{event.suite or 'run'}] ERROR {event.message}", "bold magenta")
            case Interrupted():
                self._line("interrupted: stopping after the current step", "bold magenta")
            case RunFinished():
                self.close()
                self.verdict_line(self.collector.result())

    def close(self) -> None:
        """Stop the progress display (safe to call twice, e.g. from a finally)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _line(self, text: str, style: str | None = None) -> None:
        target = self._progress.console if self._progress is not None else self.console
        if self.plain:
            target.print(self._mask(text), markup=False, highlight=False, soft_wrap=True)
        else:
            target.print(Text(self._mask(text), style=style or ""), soft_wrap=True)

    def _run_started(self, event: RunStarted) -> None:
        build = f", build {event.build}" if event.build else ""
        self._line(
            f"chaperone run {event.run_id} against {event.target}{build}, seed {event.seed}: "
            f"{', '.join(event.suites) or 'no suites'}"
        )

    def _suite_started(self, event: SuiteStarted) -> None:
        if self.plain:
            self._line(f"[{event.suite}] started")
            return
        if self._progress is None:
            self._progress = _new_progress(self.console)
            self._progress.start()
        self._tasks[event.suite] = self._progress.add_task(event.suite, total=event.total_steps)

    def _advance(self, suite: str) -> None:
        if self._progress is not None and suite in self._tasks:
            self._progress.advance(self._tasks[suite])

    def _finding(self, suite: str, finding: Finding) -> None:
        # One bug shows on every later look, for every user: the terminal shows the first
        # finding of each kind, route, surface and data kind, and stops listing after a
        # screenful; the summary's root causes (reports.groups) and the reports count the rest.
        cause = _cause(finding)
        if cause in self._shown:
            return
        self._shown.add(cause)
        if len(self._shown) > MAX_FINDING_LINES:
            if len(self._shown) == MAX_FINDING_LINES + 1:
                self._line(f"[{suite}] ... more findings; the report lists every one")
            return
        if self.plain:
            self._line(f"[{suite}] FINDING {finding_line(finding)}")
            return
        text = Text(f"[{suite}] ")
        text.append(str(finding.severity).upper(), style=SEVERITY_STYLES.get(finding.severity, ""))
        text.append(" " + self._mask(finding_line(finding).split(" ", 1)[1]))
        target = self._progress.console if self._progress is not None else self.console
        target.print(text, soft_wrap=True)

    def _suite_finished(self, event: SuiteFinished) -> None:
        note = f": {event.message}" if event.message and event.verdict is not Verdict.PASS else ""
        if self._progress is not None and event.suite in self._tasks:
            task = self._tasks[event.suite]
            total = self._progress.tasks[task].total
            self._progress.update(task, total=total or 1, completed=total or 1)
        style = VERDICT_STYLES.get(event.verdict)
        self._line(f"[{event.suite}] {event.verdict} in {event.seconds:.1f}s{note}", style)

    # -- end of run ---------------------------------------------------------------------

    def verdict_line(self, result: RunResult) -> None:
        why = f" ({'; '.join(result.reasons)})" if result.reasons else ""
        self._line(
            f"verdict: {result.verdict.upper()}{why} in {result.seconds:.1f}s",
            VERDICT_STYLES.get(result.verdict),
        )

    def summary(self, result: RunResult, paths: Mapping[str, Path] | None = None) -> None:
        """Counts, the exposure table and where the reports are. Call after writing them."""
        self.close()
        self._groups(result)
        self._line(_counts(result))
        self._coverage(result)
        if self.plain:
            for e in result.exposures[:MAX_EXPOSURE_ROWS]:
                self._line(
                    f"exposure: {e.owner} -> {e.observer}: {', '.join(e.what)} via "
                    f"{', '.join(e.surfaces)}; {e.findings}x, first {_clock(e.first_seen)} UTC"
                )
        elif result.exposures:
            self.console.print(_exposure_table(result, self._mask))
        for kind, path in (paths or {}).items():
            self._line(f"{kind} report: {path}")
        self.verdict_line(result)

    def _groups(self, result: RunResult) -> None:
        accepted = [r.key for r in result.findings if r.accepted]
        groups = group_findings(result.findings, accepted, result.roles)
        if not groups:
            return
        self._line(f"{len(groups)} root cause(s) behind {len(result.findings)} finding(s):")
        for group in groups[:MAX_GROUP_LINES]:
            note = " [accepted]" if group.accepted else ""
            self._line(
                self._mask(
                    f"  [{group.key}] {group.severity} {group.title}: {group.evidence}{note}"
                )
            )
        if len(groups) > MAX_GROUP_LINES:
            self._line(f"  ... {len(groups) - MAX_GROUP_LINES} more; the reports list all")

    def _coverage(self, result: RunResult) -> None:
        share = result.coverage
        if share is None:
            return
        lost = sum(r.lost for r in result.coverage_rows)
        checked = sum(r.checked for r in result.coverage_rows)
        retries = f", {result.retries} transient fault(s) retried" if result.retries else ""
        if result.relogins:
            retries += f", {result.relogins} expired session(s) logged in again"
        self._line(
            f"coverage: {share:.1%} of {checked + lost} reads really checked "
            f"(minimum {result.min_coverage:.0%}), {lost} lost{retries}"
        )
        if result.sources:
            counts = ", ".join(f"{source} {n}" for source, n in result.sources.items())
            self._line(f"reads by source: {counts}")
        shapes = variant_counts(result.coverage_rows)
        if shapes:
            self._line(f"request-shape variants: {variant_summary(shapes)}")
        if result.bounds.get("crawl_cut"):
            self._line(
                f"crawl: {result.bounds['crawl_cut']} link(s) left unread at its bounds "
                "(raise crawl.max_routes / max_requests to read them)"
            )
        if result.depth:
            self._line(f"list depth: {depth_line(result.depth.values())}")
        if result.found:
            found = ", ".join(f"{route} ({source})" for route, source in result.found.items())
            self._line(f"routes outside the profile and the OpenAPI document: {found}")


def _cause(finding: Finding) -> tuple[str, ...]:
    return (
        finding.kind,
        base_route(finding.surface.where),
        str(finding.surface.kind),
        str(finding.canary_kind or ""),
    )


def _new_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _counts(result: RunResult) -> str:
    cases = len(result.cases)
    bad = sum(c.verdict is not Verdict.PASS and not c.skipped for c in result.cases)
    skipped = sum(bool(c.skipped) for c in result.cases)
    severities: dict[str, int] = {}
    for record in result.findings:
        key = str(record.finding.severity)
        severities[key] = severities.get(key, 0) + 1
    by_severity = ", ".join(f"{n} {s}" for s, n in sorted(severities.items()))
    accepted = sum(1 for r in result.findings if r.accepted)
    return (
        f"{len(result.suites)} suite(s), {cases} case(s) ({bad} not passed"
        + (f", {skipped} not applicable" if skipped else "")
        + f"), {len(result.findings)} finding(s)"
        + (f" ({accepted} accepted)" if accepted else "")
        + (f" ({by_severity})" if by_severity else "")
        + f", {len(result.exposures)} exposure(s), {len(result.errors)} error(s)"
    )


def _exposure_table(result: RunResult, mask: Redactor) -> Table:
    table = Table(title="Exposures: whose data reached whom")
    for column in ("Owner", "Observer", "What", "Surfaces", "Count", "First seen (UTC)"):
        table.add_column(column)
    for e in result.exposures[:MAX_EXPOSURE_ROWS]:
        table.add_row(
            Text(e.owner),
            Text(e.observer),
            Text(mask(", ".join(e.what))),
            Text(mask("\n".join(e.surfaces))),
            str(e.findings),
            _clock(e.first_seen),
        )
    if len(result.exposures) > MAX_EXPOSURE_ROWS:
        table.caption = f"{len(result.exposures) - MAX_EXPOSURE_ROWS} more in report.json"
    return table
