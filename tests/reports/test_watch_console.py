"""`chaperone watch`'s lines, drawn by reports.watch_console from plain values: what each
event says, and nothing from the target is ever read as markup."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from reports.watch_console import WatchConsole


def lines(draw) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    draw(WatchConsole(Console(file=out, width=300, color_system=None)))
    return out.getvalue().strip()


def test_round_lines() -> None:
    kw = {"switched": 3, "refused": 1, "findings": 0}
    clean = lines(lambda c: c.round_done(2, 25, clean=True, leaks=False, **kw))
    assert clean == "round 2: clean, rollout 25% (3 switched, 1 flag-off, 0 finding(s))"
    leak = lines(lambda c: c.round_done(3, 50, clean=False, leaks=True, **kw))
    assert leak.startswith("round 3: LEAK, rollout 50%")
    other = lines(lambda c: c.round_done(4, 50, clean=False, leaks=False, **kw))
    assert other.startswith("round 4: finding, rollout 50%")


def test_kill_switch_lines_say_what_to_do() -> None:
    done = lines(
        lambda c: c.disabled(
            lag=0.25, reason="p1 saw [b]p2[/b]'s data", error="", revoked="ab" * 32, audit_error=""
        )
    )
    assert done == (
        "flag auto-disabled 0.25s after detection: p1 saw [b]p2[/b]'s data; "
        "build abababababab revoked"
    )
    failed = lines(
        lambda c: c.disabled(
            lag=None, reason="", error="backend down", revoked=None, audit_error="disk full"
        )
    )
    assert "could NOT be disabled: backend down" in failed
    assert "chaperone flags disable" in failed and "NOT audited: disk full" in failed
    lost = lines(lambda c: c.target_lost("[red]gone[/red]", disabled=True, error=""))
    assert lost.startswith("target unreachable ([red]gone[/red]); the flag was disabled")


def test_incident_line(tmp_path: Path) -> None:
    text = lines(lambda c: c.incident(tmp_path / "incident.json", 4, tmp_path / "incident.md"))
    assert (
        text == f"incident report: {tmp_path}/incident.json (4 exposure(s)), {tmp_path}/incident.md"
    )
