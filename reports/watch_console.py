"""`chaperone watch` on the terminal: one line per watch event, and where the incident report
went. flags.watch decides; the command passes each event's values here (this module may not
import flags/, which sits above it)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from reports.terminal import make_console


class WatchConsole:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console(highlight=False)

    def _print(self, markup: str) -> None:
        self.console.print(markup, highlight=False)

    def started(self, flag: str, env: str, rollout: int) -> None:
        self._print(f"watching {escape(flag)} in {escape(env)} (rollout {rollout}%)")

    def round_done(
        self,
        round_no: int,
        rollout: int,
        *,
        clean: bool,
        leaks: bool,
        switched: int,
        refused: int,
        findings: int,
    ) -> None:
        word = "[green]clean[/]" if clean else "[red bold]LEAK[/]" if leaks else "finding"
        self._print(
            f"round {round_no}: {word}, rollout {rollout}% "
            f"({switched} switched, {refused} flag-off, {findings} finding(s))"
        )

    def raised(self, low: int, high: int) -> None:
        self._print(f"[green]rollout raised {low}% -> {high}%[/] (previous stage stayed clean)")

    def held(self, reason: str) -> None:
        self._print(
            f"[yellow]rollout held:[/] {escape(reason)}; it will not be raised again this watch"
        )

    def disabled(
        self,
        *,
        lag: float | None,
        reason: str,
        error: str,
        revoked: str | None,
        audit_error: str,
    ) -> None:
        """The kill switch after a leak: `lag` seconds after detection, or None if it failed."""
        after = f"; build {escape(revoked[:12])} revoked" if revoked else ""
        after += f"; NOT audited: {escape(audit_error)}" if audit_error else ""
        if lag is None:
            self._print(
                f"[red bold]LEAK and the flag could NOT be disabled: {escape(error)}[/] "
                f"- disable it by hand now (`chaperone flags disable`){after}"
            )
            return
        self._print(
            f"[red bold]flag auto-disabled[/] {lag:.2f}s after detection: {escape(reason)}{after}"
        )

    def target_lost(self, problem: str, *, disabled: bool, error: str) -> None:
        if not disabled:
            self._print(
                f"[red bold]target unreachable ({escape(problem)}) and the flag could NOT be "
                f"disabled: {escape(error)}[/] - disable it by hand now"
            )
            return
        self._print(
            f"[red bold]target unreachable[/] ({escape(problem)}); the flag was disabled "
            "because safety can no longer be shown"
        )

    def turned_off(self) -> None:
        self._print("the flag was turned off by someone else; nothing left to guard")

    def finished(self, outcome: str, rounds: int, rollout: int) -> None:
        self._print(f"watch finished: {outcome} after {rounds} round(s), rollout {rollout}%")

    def incident_lost(self, problem: str) -> None:
        self._print(f"[red bold]incident report NOT written[/] ({escape(problem)})")

    def incident(self, json_path: Path, exposures: int, md_path: Path) -> None:
        self._print(
            f"incident report: {escape(str(json_path))} ({exposures} exposure(s)), "
            f"{escape(str(md_path))}"
        )
