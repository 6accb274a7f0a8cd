"""Entry point of the browser suite (`chaperone.suites` entry point `browser`).

The run is async (several Playwright contexts driven at once); it runs on the run's one event
loop (`ctx.loop`) and is streamed back as a plain iterator, so findings reach the reporters as
soon as they are raised.

Everything the suite knows about the target's pages comes from the profile's `browser:`
section. Without one, every scenario is reported as not applicable and the suite's verdict is
an error: a gate that requires the browser suite must not pass a build nobody looked at in a
browser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from harness.errors import ConfigError
from harness.events import CaseFinished, Event, SuiteFinished, SuiteStarted
from harness.models import Verdict
from harness.profile.model import BrowserSpec, TargetProfile
from harness.suites import RunContext
from scenarios.browser.flow import SUITE, BrowserRun
from scenarios.browser.launch import check_chromium
from scenarios.browser.plan import Cast, make_plan
from scenarios.switch import scenarios_for

NO_BROWSER = "not applicable: the profile has no browser section"


def run_browser(ctx: RunContext) -> Iterator[Event]:
    """Several users at once in Chromium, through the switch suite's scenarios; the rendered
    pages are judged for foreign data.

    Raises InfrastructureError (after yielding the findings gathered so far) when Chromium is
    missing or the target stops answering, and NoEffect when owners never saw their own data.
    """
    profile = ctx.adapter.profile
    if profile.browser is None:
        yield from _not_applicable(ctx, profile)
        return
    spec = _checked(profile, profile.browser)
    # Before reseeding: a missing browser should not cost a target reset.
    check_chromium(ctx.options.chromium)
    world = ctx.reseed()
    cast = Cast.pick(world, profile, spec, ctx.options.browser_users)
    ctx.claim(a.id for a in cast.owners)  # a load run beside us leaves their calls alone
    plan = make_plan(spec, scenarios_for(ctx), cast.fresh)
    browser_run = BrowserRun(ctx, spec, cast, plan)
    yield SuiteStarted(SUITE, browser_run.total_steps(), time.time())
    yield from ctx.loop.stream(browser_run.events(), ctx.cancel)


def _checked(profile: TargetProfile, spec: BrowserSpec) -> BrowserSpec:
    problems = spec.unknown_names(profile.roles, profile.flows)
    if problems:
        raise ConfigError(problems[0], "fix the profile's browser: section")
    return spec


def _not_applicable(ctx: RunContext, profile: TargetProfile) -> Iterator[Event]:
    scenarios = scenarios_for(ctx)
    yield SuiteStarted(SUITE, len(scenarios), time.time())
    for scenario in scenarios:
        yield CaseFinished(SUITE, scenario.name, Verdict.PASS, 0.0, NO_BROWSER, skipped=NO_BROWSER)
    yield SuiteFinished(
        SUITE,
        Verdict.ERROR,
        0.0,
        time.time(),
        message=f"profile '{profile.name}' has no browser section, so no page was checked in a "
        "browser; add one (login form, pages, flow controls) or do not require the browser suite",
        metrics={"scenarios": [], "not_applicable": [s.name for s in scenarios]},
    )
