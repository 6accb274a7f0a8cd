"""Running the engine through a console reporter and writing the reports: what `run`, `gate`
and the demo's gates share."""

from __future__ import annotations

import time
from pathlib import Path

from harness.cancel import interrupts
from harness.engine import RunRequest, run
from harness.errors import Cancelled, CancelReason
from harness.events import Interrupted, RunFinished
from harness.models import Verdict
from reports.console import ConsoleReporter
from reports.result import RunResult
from reports.writer import write_all


def execute(request: RunRequest, reporter: ConsoleReporter) -> tuple[RunResult, dict[str, Path]]:
    """Run the engine through the reporter; the reports are written even after Ctrl-C.

    Ctrl-C usually lands inside the engine, which reports it as an event. When it lands in
    the reporter instead, the run is closed here the same way, so the report still says
    `interrupted` with verdict `error` and keeps every finding so far; then Cancelled(interrupt)
    is raised, and the command stops."""
    events = run(request)
    interrupted = False
    try:
        with interrupts():
            for event in events:
                reporter.handle(event)
    except Cancelled:
        interrupted = True
        events.close()  # the engine's own cleanup: cancel requests, close the client
        now = time.time()
        reporter.handle(Interrupted(time=now))
        reporter.handle(RunFinished(verdict=Verdict.ERROR, seconds=0.0, time=now))
    finally:
        reporter.close()
        result = reporter.collector.result()
        paths = write_all(result, request.out_dir, secrets=[request.support_token])
    if interrupted:
        raise Cancelled(CancelReason.INTERRUPT)
    return result, paths
