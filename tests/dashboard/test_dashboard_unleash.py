"""The dashboard in real Chromium against a controller on a REAL Unleash 8.2 (PostgreSQL): a
release manager enables production from the dashboard and Unleash has it on; a flag turned on in
Unleash behind the controller's back, then self-healed, and a flag disabled from the command
line both show off in the grid without a reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flags.backends.unleash import UnleashBackend
from tests.dashboard.served import FLAG, artifacts, chaperone, chromium, serve, sign_in
from tests.services.postgres import postgres
from tests.services.unleash import UnleashServer, unleash_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GOOD = "56" * 32


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


def test_the_dashboard_drives_and_shows_a_real_unleash(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    direct.ensure_flag(FLAG)
    env = {**os.environ, "UNLEASH_ADMIN_TOKEN": unleash.admin_token}
    backend = ("--backend", "unleash", "--unleash-url", unleash.url)
    try:
        with serve(tmp_path, *backend, env=env) as served, chromium() as browser:
            served.pin()
            rita = sign_in(browser, served, "rita")
            rita.goto(f"{served.url}/dashboard/flags/{FLAG}")
            production = rita.locator('section.env[data-env="production"]')
            production.get_by_label("Verdict file (verdict.json from the gate)").set_input_files(
                served.verdict("build-u1", GOOD)
            )
            production.get_by_label("Reason").first.fill("release u1")
            production.get_by_role("button", name="Enable production").click()
            expect(rita.get_by_role("status").first).to_contain_text("Enabled video-switch")
            assert direct.status(FLAG, "production").enabled

            grid = sign_in(browser, served, "vic")
            grid.evaluate("window.__sameDocument = true")
            on = grid.locator(f'td[data-cell="{FLAG}|production"]')
            expect(on.locator(".state")).to_have_text("ON 100%")

            direct.enable(FLAG, "development")  # someone holding the admin token
            development = grid.locator(f'td[data-cell="{FLAG}|development"]')
            expect(development).to_contain_text("drift-disabled", timeout=20_000)
            expect(development.locator(".state")).to_have_text("OFF")
            assert not direct.status(FLAG, "development").enabled

            chaperone(
                "flags",
                "disable",
                FLAG,
                "--env",
                "production",
                "--controller",
                served.url,
                token=served.tokens["rita"],
            )
            expect(on.locator(".state")).to_have_text("OFF", timeout=15_000)
            assert not direct.status(FLAG, "production").enabled
            assert grid.evaluate("window.__sameDocument") is True
            grid.screenshot(path=str(artifacts() / "grid-unleash.png"))
    finally:
        direct.close()
