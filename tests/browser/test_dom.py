"""What the suite reads from a rendered page, in real Chromium: text, attributes, hidden markup."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import async_playwright

from harness.models import SurfaceKind
from scenarios.browser.dom import highlight, observe, recording_owner_ids
from scenarios.browser.launch import launch_chromium

pytestmark = pytest.mark.integration

PAGE = """<section id="recordings"><ul>
<li class="recording" data-patient-id="10">audio recording: mine</li>
<li class="recording" data-patient-id="11" title="zqattrattrat">video recording</li>
<li class="recording" data-patient-id="12">rash (Zqtexttexttx)</li>
</ul><input type="hidden" value="zqhiddenhidd"><!-- zqcommentcom --></section>"""


def _run() -> tuple[bytes, SurfaceKind | None, list[str], int, list[str]]:
    async def go() -> tuple[bytes, SurfaceKind | None, list[str], int, list[str]]:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright, "/usr/bin/chromium")
            page = await browser.new_page()
            await page.set_content(PAGE)
            obs = await observe(page, "p0", "browser/p0/profile", "PAGE /profile", 200)
            owners = await recording_owner_ids(page)
            marked = await highlight(page, ["zqtexttexttx"], ["11"])
            flagged = await page.eval_on_selector_all(
                "li[data-chaperone-leak]", "els => els.map(e => e.dataset.patientId)"
            )
            await browser.close()
            return obs.body, obs.surface_hint, owners, marked, flagged

    return asyncio.run(go())


def test_snapshot_holds_text_attributes_and_hidden_markup() -> None:
    body, hint, owners, marked, flagged = _run()
    assert hint is SurfaceKind.DOM
    for canary in (b"Zqtexttexttx", b"zqattrattrat", b"zqhiddenhidd", b"zqcommentcom"):
        assert canary in body
    assert owners == ["10", "11", "12"]
    # Row 11 by its foreign owner id, row 12 by its canary (matched case-insensitively).
    assert marked == 2 and flagged == ["11", "12"]
