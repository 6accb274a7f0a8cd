"""Entry point of the browser suite (`chaperone.suites` entry point `browser`).

The flow is async (several Playwright contexts driven at once); it runs on the run's one event
loop (`ctx.loop`) and is streamed back as a plain iterator, so findings reach the reporters as
soon as they are raised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from harness.events import Event, SuiteStarted
from harness.suites import RunContext
from scenarios.browser.flow import SUITE, BrowserRun, Cast
from scenarios.browser.launch import check_chromium


def run_browser(ctx: RunContext) -> Iterator[Event]:
    """Several patients at once in Chromium; the rendered pages are judged for foreign data.

    Raises InfrastructureError (after yielding the findings gathered so far) when Chromium is
    missing or the target stops answering.
    """
    # Before reseeding: a missing browser should not cost a target reset.
    check_chromium(ctx.options.chromium)
    ctx.reseed()
    cast = Cast.pick(ctx)
    yield SuiteStarted(SUITE, cast.total_steps, time.time())
    yield from ctx.loop.stream(BrowserRun(ctx, cast).events(), ctx.cancel)
