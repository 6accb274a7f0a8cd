"""The dashboard in real Chromium against a controller on a REAL Unleash 8.2 (PostgreSQL): a
release manager enables production from the dashboard and Unleash has it on; a flag turned on in
Unleash behind the controller's back, then self-healed, and a flag disabled from the command
line both show off in the grid without a reload. And the controller's watch, probing a clinic
that reads the flag from that Unleash with the incident's bug planted, switches the flag off in
Unleash after the leak, and the grid shows it, with what went wrong, without a reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flags.backends.unleash import UnleashBackend
from harness.local_clinic import local_clinic
from tests.dashboard.served import FLAG, artifacts, chaperone, chromium, serve, sign_in
from tests.services.postgres import postgres
from tests.services.unleash import UnleashServer, unleash_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GOOD = "56" * 32
LEAKY = "9a" * 32


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


def test_watch_switches_a_leaking_flag_off_in_a_real_unleash_and_the_grid_shows_it(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    direct.ensure_flag(FLAG)
    direct.disable(FLAG, "development")
    # The clinic's client token reads Unleash's development environment.
    follows = ("--unleash-url", f"{unleash.url}/api", "--unleash-token", unleash.client_token)
    try:
        with local_clinic(("switch-recording-misattribution",), extra_args=follows) as clinic:
            env = {**os.environ, "UNLEASH_ADMIN_TOKEN": unleash.admin_token}
            env["CHAPERONE_SUPPORT_TOKEN"] = clinic.support_token
            args = ("--backend", "unleash", "--unleash-url", unleash.url)
            args += ("--watch-target", clinic.url, "--watch-interval", "1")
            args += ("--incidents", str(tmp_path / "incidents"))
            with serve(tmp_path, *args, env=env) as served, chromium() as browser:
                served.pin()
                grid = sign_in(browser, served, "vic")
                grid.evaluate("window.__sameDocument = true")
                cell = grid.locator(f'td[data-cell="{FLAG}|development"]')

                rita = sign_in(browser, served, "rita")
                rita.goto(f"{served.url}/dashboard/flags/{FLAG}")
                development = rita.locator('section.env[data-env="development"]')
                development.get_by_label(
                    "Verdict file (verdict.json from the gate)"
                ).set_input_files(served.verdict("build-leaky", LEAKY))
                development.get_by_label("Reason").first.fill("ship the switch")
                development.get_by_role("button", name="Enable development").click()
                expect(rita.get_by_role("status").first).to_contain_text("Enabled video-switch")
                assert direct.status(FLAG, "development").enabled

                expect(cell).to_contain_text("incident-written", timeout=150_000)
                expect(cell.locator(".state")).to_have_text("OFF")
                expect(cell.locator(".incident-brief ul.causes li")).to_have_count(1)
                assert not direct.status(FLAG, "development").enabled
                assert grid.evaluate("window.__sameDocument") is True
                grid.screenshot(path=str(artifacts() / "grid-after-watch-unleash.png"))
                status = served.api("vic", "GET", f"/v1/flags/{FLAG}").json()
                assert status["revoked"] == [LEAKY]
    finally:
        direct.close()
