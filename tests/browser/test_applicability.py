"""When the browser suite cannot look (no browser section, a section naming what the profile
lacks, no Chromium), it never passes; and a page read that proves nothing is lost coverage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.canaries import OwnershipModel
from harness.config import RunOptions
from harness.coverage import Coverage
from harness.errors import ConfigError, TargetUnreachable
from harness.events import CaseFinished, SuiteFinished, SuiteStarted
from harness.models import Actor, Verdict
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from harness.suites import RunContext
from harness.world import World
from scenarios.browser.flow import BrowserRun, Scene
from scenarios.browser.plan import Cast
from scenarios.browser.suite import NO_BROWSER, run_browser
from scenarios.browser.user import BrowserUser
from scenarios.switch import all_scenarios

CLINIC = load_profile("clinic").profile


def _context(tmp_path: Path, profile: TargetProfile) -> RunContext:
    world = World("http://127.0.0.1:9", 0, {}, OwnershipModel(()), ())

    def reseed() -> World:
        raise AssertionError("the target must not be reset when the suite cannot run")

    return RunContext(
        target=world.target,
        world=world,
        options=RunOptions(chromium="/nonexistent/chromium"),
        out_dir=tmp_path,
        judge=lambda obs: [],
        adapter=cast(Any, SimpleNamespace(profile=profile, coverage=Coverage())),
        loop=cast(Any, None),
        reseed=reseed,
    )


def test_a_profile_without_a_browser_section_is_not_applicable_and_never_passes(
    tmp_path: Path,
) -> None:
    profile = CLINIC.model_copy(update={"browser": None})
    events = list(run_browser(_context(tmp_path, profile)))
    assert isinstance(events[0], SuiteStarted)
    cases = [e for e in events if isinstance(e, CaseFinished)]
    assert [c.name for c in cases] == [s.name for s in all_scenarios(CLINIC.scenarios)]
    assert all(c.skipped == NO_BROWSER for c in cases)
    finished = events[-1]
    assert isinstance(finished, SuiteFinished)
    assert finished.verdict is Verdict.ERROR
    assert "profile 'clinic' has no browser section" in finished.message


def test_a_browser_section_naming_an_unknown_flow_is_a_config_error(tmp_path: Path) -> None:
    assert CLINIC.browser is not None
    flows = {**CLINIC.browser.flows, "dance": CLINIC.browser.flows["join"]}
    browser = CLINIC.browser.model_copy(update={"flows": flows})
    profile = CLINIC.model_copy(update={"browser": browser})
    with pytest.raises(ConfigError) as raised:
        list(run_browser(_context(tmp_path, profile)))
    assert raised.value.one_line() == (
        "browser.flows names flow 'dance', which is not under flows; "
        "fix the profile's browser: section"
    )


class _User:
    """Stands in for a BrowserUser whose page never loads, or lands somewhere."""

    def __init__(self, path: str, error: BaseException | None = None) -> None:
        self.actor = Actor("p0", "patient")
        self.path = path
        self.error = error

    async def goto(self, path: str) -> int:
        if self.error is not None:
            raise self.error
        return 200


def _run(tmp_path: Path) -> tuple[BrowserRun, Coverage]:
    ctx = _context(tmp_path, CLINIC)
    assert CLINIC.browser is not None
    run = BrowserRun(ctx, CLINIC.browser, Cast((), (), None), [])
    return run, ctx.adapter.coverage


def test_a_page_that_timed_out_or_got_no_answer_is_lost_coverage(tmp_path: Path) -> None:
    run, coverage = _run(tmp_path)
    scene = Scene("s", 0)
    late = cast(BrowserUser, _User("/", PlaywrightTimeout("Timeout 20000ms exceeded.")))
    assert asyncio.run(run._read(late, scene, "step", "/profile", "PAGE /profile")) is None
    gone = cast(BrowserUser, _User("/", TargetUnreachable("gone")))
    with pytest.raises(TargetUnreachable):
        asyncio.run(run._read(gone, scene, "step", "/profile", "PAGE /profile"))
    (row,) = coverage.rows()
    assert (row.route, row.checked, row.lost) == ("PAGE /profile", 0, 2)
    assert dict(row.reasons) == {"timeout": 1, "no answer": 1}


def test_a_5xx_or_a_bounce_to_the_login_page_is_lost_and_a_denial_is_checked(
    tmp_path: Path,
) -> None:
    run, coverage = _run(tmp_path)
    run._count(cast(BrowserUser, _User("/profile")), "PAGE /profile", 503)
    run._count(cast(BrowserUser, _User("/login")), "PAGE /profile", 200)
    run._count(cast(BrowserUser, _User("/profile")), "PAGE /profile", 200)
    run._count(cast(BrowserUser, _User("/profile")), "PAGE /profile", 404)
    (row,) = coverage.rows()
    assert (row.checked, row.lost) == (2, 2)
    assert dict(row.reasons) == {"HTTP 503": 1, "sent to the login page": 1}
