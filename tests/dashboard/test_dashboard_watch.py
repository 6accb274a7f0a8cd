"""The controller's own watch, seen from the dashboard in real Chromium: a served controller
watches a real clinic with the incident's planted bug (recordings filed under the wrong patient
after a switch); a release manager enables the flag from the dashboard, the watch finds the
leak, turns the flag off, revokes the artefact and writes the incident, and the grid a viewer
has open shows the flag off without a reload. The incidents page lists the exposures and
exports them as CSV."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flags.backends.local import LocalBackend
from harness.local_clinic import local_clinic
from tests.dashboard.screen import on_first_screen
from tests.dashboard.served import FLAG, artifacts, chromium, serve, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DIGEST = "7e" * 32


def test_watch_switches_a_leaking_flag_off_and_the_grid_shows_it(tmp_path: Path) -> None:
    state = tmp_path / "flags-state.json"
    backend = LocalBackend(state)
    backend.declare_environments(["development", "production"])
    faults = ("switch-recording-misattribution",)
    with local_clinic(faults, flags_file=backend.clinic_file("production")) as clinic:
        env = {k: v for k, v in os.environ.items() if k != "UNLEASH_ADMIN_TOKEN"}
        env["CHAPERONE_SUPPORT_TOKEN"] = clinic.support_token
        args = ("--backend", "local", "--state", str(state), "--watch-target", clinic.url)
        args += ("--watch-interval", "1", "--incidents", str(tmp_path / "incidents"))
        with serve(tmp_path, *args, env=env) as served, chromium() as browser:
            served.pin()
            grid = sign_in(browser, served, "vic")
            grid.evaluate("window.__sameDocument = true")
            cell = grid.locator(f'td[data-cell="{FLAG}|production"]')

            rita = sign_in(browser, served, "rita")
            rita.goto(f"{served.url}/dashboard/flags/{FLAG}")
            production = rita.locator('section.env[data-env="production"]')
            production.get_by_label("Verdict file (verdict.json from the gate)").set_input_files(
                served.verdict("build-leaky", DIGEST)
            )
            production.get_by_label("Reason").first.fill("ship the switch")
            production.get_by_role("button", name="Enable production").click()
            expect(rita.get_by_role("status").first).to_contain_text("Enabled video-switch")

            # The watch probes every second; a round on the loaded machine takes a while.
            expect(cell).to_contain_text("incident-written", timeout=150_000)
            expect(cell.locator(".state")).to_have_text("OFF")
            assert not backend.status(FLAG, "production").enabled
            assert grid.evaluate("window.__sameDocument") is True
            grid.screenshot(path=str(artifacts() / "grid-after-watch.png"))

            # The newcomer's questions, from the grid without scrolling. What went wrong: one
            # line per root cause (the incident's bug is one), in the cell the watch turned off.
            brief = cell.locator(".incident-brief")
            expect(brief).to_contain_text("What went wrong (1 root cause)", timeout=15_000)
            causes = brief.locator("ul.causes li")
            assert causes.count() == 1
            title = causes.first.inner_text()
            assert "first shown at watch/look" in title, title  # the watch looked
            on_first_screen(cell.locator(".state"), brief)
            # Who was exposed to whom: one click from the cell, on the incident's first screen.
            brief.get_by_role("link", name=re.compile(r"^Incident \d+")).click()
            grid.wait_for_url("**/dashboard/incidents#incident-*")
            grid.evaluate("window.scrollTo(0, 0)")
            incident = grid.locator("section.incident").first
            expect(incident.locator("ol.causes li")).to_have_count(1)
            expect(incident.locator("ol.causes li").first).to_contain_text(title)
            exposures = incident.locator("table.exposures")
            expect(exposures.locator("caption")).to_contain_text("Who was exposed to whom")
            on_first_screen(
                incident.locator("ol.causes"),
                exposures.locator("caption"),
                exposures.locator("thead"),
                exposures.locator("tbody tr").first,
            )
            grid.screenshot(path=str(artifacts() / "incidents-first-screen-1280x800.png"))
            expect(incident).to_contain_text("production")
            expect(incident).to_contain_text(f"sha256:{DIGEST}")
            expect(incident).to_contain_text("auto-disabled")
            rows = incident.locator("tbody tr")
            assert rows.count() >= 1
            assert "No exposure" not in rows.first.inner_text()
            grid.screenshot(path=str(artifacts() / "incidents.png"), full_page=True)
            with grid.expect_download() as download:
                grid.get_by_role("link", name="Download every exposure (CSV)").click()
            lines = Path(download.value.path()).read_text().splitlines()
            assert lines[0].startswith("incident,flag,env,owner (whose data)")
            assert len(lines) == rows.count() + 1
            status = served.api("vic", "GET", f"/v1/flags/{FLAG}").json()
            assert status["revoked"] == [DIGEST]

            # On a phone the incident reads in one column: its root cause, then the exposure
            # table scrolling inside itself rather than widening the page.
            grid.set_viewport_size({"width": 390, "height": 844})
            grid.goto(f"{served.url}/dashboard/incidents")
            expect(grid.locator("section.incident ol.causes li")).to_have_count(1)
            wide = grid.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert wide <= 1, f"the incidents page is {wide}px wider than a phone"
            # each exposure a card as wide as the screen, not a column squeezed to a word
            where = grid.locator('section.incident td[data-label="Where"]').first.bounding_box()
            assert where is not None and where["width"] >= 300, where
            grid.screenshot(path=str(artifacts() / "incidents-phone.png"), full_page=True)
