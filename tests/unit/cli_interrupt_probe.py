"""Run as `python -m tests.unit.cli_interrupt_probe keys`: chaperone's own `main`, with a
command that meets a Ctrl-C inside code run by exec() of a string (where dataclasses build
their methods, so where a Ctrl-C during a lazy import lands) and handles it: exit code 2."""

from __future__ import annotations

import typer

from chaperone import cli


def _handled_interrupt(app: typer.Typer) -> int:
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        return 2
    return 0


cli.run_guarded = _handled_interrupt
cli.main()
