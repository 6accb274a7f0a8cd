"""Ctrl-C can land in the reporter rather than in the engine; the report must still be written,
say `interrupted`, carry verdict `error`, and keep the findings seen so far."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from chaperone.running import execute
from harness.config import RunOptions
from harness.engine import RunRequest
from harness.errors import Cancelled, CancelReason
from harness.events import Event, FindingRaised
from reports.console import ConsoleReporter
from tests.unit.inprocess import BASE, TOKEN, transport


class InterruptedReporter(ConsoleReporter):
    def handle(self, event: Event) -> None:
        super().handle(event)
        if isinstance(event, FindingRaised):
            raise KeyboardInterrupt


def test_ctrl_c_in_the_reporter_still_writes_an_error_report(tmp_path: Path) -> None:
    (tmp_path / "clinic").mkdir()
    request = RunRequest(
        BASE,
        RunOptions(suites=("switch",), population={"patient": 3}),
        tmp_path / "out",
        TOKEN,
        transport=transport(tmp_path / "clinic", frozenset({"switch-recording-misattribution"})),
    )
    reporter = InterruptedReporter(console=Console(file=io.StringIO()), plain=True)
    with pytest.raises(Cancelled) as raised:
        execute(request, reporter)
    assert raised.value.reason is CancelReason.INTERRUPT
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "error"
    assert report["interrupted"] is True
    assert len(report["findings"]) >= 1
