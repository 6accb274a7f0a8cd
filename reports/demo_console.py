"""`chaperone demo` on the terminal: a rule before each act, the flag's history, then what
happened against what should have."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from reports.flags_console import FlagsConsole, HistoryView
from reports.terminal import make_console


class DemoConsole:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console()

    def act(self, title: str) -> None:
        self.console.print(Rule(escape(title)))

    def history(self, view: HistoryView) -> None:
        FlagsConsole(self.console).history(view)

    def summary(
        self,
        out_dir: Path,
        blocked: str,
        passed: str,
        enabled: bool,
        watched: bool,
        ok: bool,
    ) -> None:
        print_ = self.console.print
        print_(f"faulty build verdict: [bold]{blocked}[/] (expected fail: flag kept off)")
        print_(f"fixed build verdict:  [bold]{passed}[/] (expected pass)")
        print_(f"flag enabled: {enabled}; watch clean: {watched}")
        for name in ("faulty", "fixed"):
            print_(
                f"{name} reports: {escape(str(out_dir / name / 'report.html'))}  "
                f"verdict: {escape(str(out_dir / name / 'verdict.json'))}"
            )
        print_(
            "[bold green]demo: the gate did its job[/]"
            if ok
            else "[bold red]demo: something did not go as expected (see above)[/]"
        )
