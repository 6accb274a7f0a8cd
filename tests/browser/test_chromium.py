"""A missing or broken Chromium is an InfrastructureError naming the fix, never a skip."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from playwright.async_api import async_playwright

from harness.canaries import OwnershipModel
from harness.config import RunOptions
from harness.coverage import Coverage
from harness.errors import InfrastructureError
from harness.profile import load_profile
from harness.suites import RunContext
from harness.world import World
from scenarios.browser.launch import launch_chromium
from scenarios.browser.suite import run_browser


def _context(tmp_path: Path, chromium: str) -> RunContext:
    world = World("http://127.0.0.1:9", 0, {}, OwnershipModel(()), ())

    def reseed() -> World:
        raise AssertionError("the target must not be reset when there is no browser")

    return RunContext(
        target=world.target,
        world=world,
        options=RunOptions(chromium=chromium),
        out_dir=tmp_path,
        judge=lambda obs: [],
        # The clinic's profile has a browser section, so the suite goes on to need Chromium.
        adapter=cast(
            Any, SimpleNamespace(profile=load_profile("clinic").profile, coverage=Coverage())
        ),
        loop=cast(Any, None),
        reseed=reseed,
    )


def test_missing_chromium_names_the_fix(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "/nonexistent/chromium")
    with pytest.raises(InfrastructureError) as raised:
        list(run_browser(ctx))
    assert raised.value.one_line() == (
        "Chromium not found at /nonexistent/chromium; "
        "run `apt-get install -y chromium` or pass --chromium PATH"
    )


def test_a_binary_that_is_not_chromium_is_an_infrastructure_error(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)

    async def launch() -> None:
        async with async_playwright() as playwright:
            await launch_chromium(playwright, str(fake))

    with pytest.raises(InfrastructureError, match="did not start"):
        asyncio.run(launch())
