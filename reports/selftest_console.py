"""`chaperone selftest` on the terminal: one line per finished run, then the summary. The
selftest package decides what each line says (selftest.progress) and the scores; this module
only draws them, from plain data, as reports.scorecard_html draws selftest.html."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape

Status = Literal["found", "missed", "nothing", "clean", "false-alarm", "error"]
_WORDS: dict[str, str] = {
    "found": "[bold green]found[/]",
    "missed": "[bold red]nothing found[/]",
    "nothing": "[yellow]nothing found[/]",
    "clean": "[bold green]clean[/]",
    "false-alarm": "[bold red]FALSE ALARM[/]",
    "error": "[bold magenta]ERROR[/]",
}


@dataclass(frozen=True, slots=True)
class RunLine:
    """One finished run: its label, what became of it, and why (plain text)."""

    label: str
    status: Status
    detail: str
    seconds: float


def run_text(count: int, total: int, line: RunLine) -> str:
    """The line as Rich markup: every value from the run escaped."""
    detail = escape(line.detail)
    if line.detail and line.status != "error":
        detail = f"({detail})"
    parts = [_WORDS[line.status], detail, f"in {line.seconds:.0f}s"]
    return f"\\[{count}/{total}] {escape(line.label)}: " + " ".join(p for p in parts if p)


class SelftestConsole:
    def __init__(self, console: Console | None = None) -> None:
        # One line per run, even in a narrow CI log.
        self.console = console or Console(soft_wrap=True)

    def started(self, runs: int, jobs: int, out_dir: Path) -> None:
        self.console.print(f"selftest: {runs} runs, {jobs} at a time -> {escape(str(out_dir))}")

    def run_done(self, count: int, total: int, line: RunLine) -> None:
        self.console.print(run_text(count, total, line))

    def summary(self, data: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
        """`data` is the scorecard as written to selftest.json."""
        faults: Mapping[str, Any] = data["faults"]
        seeds: list[Mapping[str, Any]] = data["clean"]["seeds"]
        undetected, noisy = data["undetected"], data["noisy_clean"]
        print_ = self.console.print
        print_(
            f"selftest: {len(faults) - len(undetected)}/{len(faults)} faults detected, "
            f"{len(seeds) - len(noisy)}/{len(seeds)} clean runs clean, in "
            f"{data['seconds']:.0f}s with {data['jobs']} job(s) ({data['cpu_seconds']:.0f} "
            f"CPU-s) -> {escape(str(paths['json']))}, {escape(str(paths['html']))}"
        )
        if causes := data.get("root_causes"):
            spread = ", ".join(f"{n} cause(s): {k}" for n, k in causes.items())
            print_(f"root causes per detected fault (at most 2 each): {spread}")
        if undetected:
            print_(f"[bold red]missed:[/] {escape(', '.join(undetected))}")
        if split := data.get("split"):
            print_(f"[bold red]more than 2 root causes:[/] {escape(', '.join(split))}")
        if noisy:
            print_(f"[bold red]clean runs not clean:[/] {escape(', '.join(noisy))}")
        for problem in data["infrastructure_errors"]:
            print_(f"[bold magenta]error:[/] {escape(problem)}", highlight=False)
