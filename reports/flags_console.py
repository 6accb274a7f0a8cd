"""`chaperone flags` on the terminal and as `--json`: what a flag is, what a change did, its
history and whether its audit chain holds. flags/ decides and fills these views with plain
values; this module only draws them (it may not import flags/, which sits above it)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reports.terminal import TIMESTAMP_WIDTH, make_console


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One action in Chaperone's audit log, as shown: `result` is "no outcome" for an intent
    whose outcome was never written (a killed run)."""

    when: str
    who: str
    action: str
    env: str
    result: str
    build: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventRow:
    """One change in the backend's own event store."""

    when: str
    who: str
    action: str
    env: str
    detail: str


@dataclass(frozen=True, slots=True)
class HistoryView:
    flag: str
    backend: str
    audit: Sequence[AuditRow]
    events: Sequence[EventRow]
    # what --json prints: every audit entry and backend event in full
    document: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainView:
    """`flags history --verify`: the log, how many lines it has, and what is wrong with it."""

    log: str
    lines: int
    problems: Sequence[str]
    notes: Sequence[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def print_json(document: Mapping[str, Any]) -> None:
    make_console(soft_wrap=True).out(json.dumps(document, sort_keys=True), highlight=False)


class FlagsConsole:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console(highlight=False)

    def say(self, text: str) -> None:
        """A line of plain text: whatever it holds is never read as markup."""
        self.console.print(escape(text))

    def status(
        self, flag: str, env: str, backend: str, enabled: bool, rollout: int, pin: str | None
    ) -> None:
        word = "[green]on[/]" if enabled else "[red]off[/]"
        pin_text = f"pinned policy {escape(pin[:12])}" if pin else "[yellow]no pinned policy[/]"
        self.console.print(
            f"{escape(flag)} in {escape(env)} ({escape(backend)}): {word}, rollout {rollout}%, "
            f"{pin_text}"
        )

    def verdict(self, verdict: Mapping[str, Any], path: Path) -> None:
        """A gate's verdict (its JSON data) in a line, and why the flag stays off if it does."""
        kind = " (reference: enables development only)" if verdict["reference"] else ""
        self.say(
            f"gate verdict: {verdict['verdict']}{kind} for build {verdict['build']} against "
            f"{verdict['target']} -> {path}"
        )
        if verdict["verdict"] != "pass":
            suites: Mapping[str, str] = verdict["suites"]
            why = ", ".join(
                f"{name} {result}" for name, result in suites.items() if result != "pass"
            )
            self.say(f"{verdict['flag']} stays off: {why}")

    def unanchored(self, error: str) -> None:
        make_console(stderr=True, highlight=False).print(
            f"warning: the audit chain head was not stored in the backend: {escape(error)}"
        )

    def history(self, view: HistoryView) -> None:
        self.console.print(audit_table(view))
        self.console.print(events_table(f"{view.backend} events for {view.flag}", view.events))

    def chain(self, view: ChainView) -> None:
        word = "[green]intact[/]" if view.intact else "[red bold]TAMPERED[/]"
        self.console.print(f"audit log {escape(view.log)}: {view.lines} line(s), {word}")
        for problem in view.problems:
            self.console.print(f"  [red]problem:[/] {escape(problem)}")
        for note in view.notes:
            self.console.print(f"  note: {escape(note)}")


def chain_document(view: ChainView) -> dict[str, Any]:
    return {
        "lines": view.lines,
        "problems": list(view.problems),
        "notes": list(view.notes),
        "intact": view.intact,
    }


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=escape(title))
    for column in columns:
        if column == "when":
            # A timestamp cut short says nothing: the other columns wrap instead.
            table.add_column(column, no_wrap=True, min_width=TIMESTAMP_WIDTH)
        else:
            table.add_column(column, overflow="fold")
    return table


def audit_table(view: HistoryView) -> Table:
    """One row per action."""
    columns = ("when", "who", "action", "env", "result", "build", "reason")
    table = _table(f"audit log for {view.flag}", columns)
    for row in view.audit:
        table.add_row(*(escape(value) for value in asdict(row).values()))
    return table


def events_table(title: str, events: Sequence[EventRow]) -> Table:
    table = _table(title, ("when", "who", "action", "env", "detail"))
    for row in events:
        table.add_row(*(escape(value) for value in asdict(row).values()))
    return table
