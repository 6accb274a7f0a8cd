"""What the suite reads from a rendered page, in real Chromium: text, attributes, hidden markup,
the rows' owners, and which rows a screenshot outlines."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import async_playwright

from harness.models import SurfaceKind
from scenarios.browser.dom import DEFAULT_ROWS, highlight, observe
from scenarios.browser.launch import launch_chromium

pytestmark = pytest.mark.integration

PAGE = """<section id="recordings"><ul>
<li class="recording" data-patient-id="10">audio recording: mine</li>
<li class="recording" data-patient-id="11" title="zqattrattrat">video recording</li>
<li class="recording" data-patient-id="12">rash (Zqtexttexttx)</li>
<li class="empty">nothing</li>
</ul><input type="hidden" value="zqhiddenhidd"><!-- zqcommentcom --></section>
<table><tr data-owner="13"><td>a row (zqtablerowxx)</td></tr><tr><td>plain</td></tr></table>"""


def _run(
    rows: str, attr: str | None, canaries: list[str], owners: list[str]
) -> tuple[bytes, SurfaceKind | None, list[str], int, list[str]]:
    async def go() -> tuple[bytes, SurfaceKind | None, list[str], int, list[str]]:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright, "/usr/bin/chromium")
            page = await browser.new_page()
            await page.set_content(PAGE)
            rendered = await observe(
                page, "p0", "browser/s/p0/look", "PAGE /profile", 200, "li", "data-patient-id"
            )
            obs, found = rendered.obs, rendered.owners
            marked = await highlight(page, rows, attr, canaries, owners)
            flagged = await page.eval_on_selector_all(
                "[data-chaperone-leak]", "els => els.map(e => e.textContent.trim())"
            )
            await browser.close()
            return obs.body, obs.surface_hint, found, marked, flagged

    return asyncio.run(go())


def test_snapshot_holds_text_attributes_and_hidden_markup() -> None:
    body, hint, owners, _, _ = _run("li", None, [], [])
    assert hint is SurfaceKind.DOM
    for canary in (b"Zqtexttexttx", b"zqattrattrat", b"zqhiddenhidd", b"zqcommentcom"):
        assert canary in body
    assert owners == ["10", "11", "12"]


def test_rows_are_outlined_by_foreign_owner_or_foreign_canary() -> None:
    *_, marked, flagged = _run("li.recording", "data-patient-id", ["zqtexttexttx"], ["11"])
    # Row 11 by its foreign owner id, row 12 by its canary (matched case-insensitively).
    assert marked == 2 and flagged == ["video recording", "rash (Zqtexttexttx)"]


def test_without_a_row_selector_list_items_and_table_rows_are_outlined_by_canary() -> None:
    *_, marked, flagged = _run(DEFAULT_ROWS, None, ["zqtablerowxx", "zqtexttexttx"], ["11"])
    assert marked == 2 and flagged == ["rash (Zqtexttexttx)", "a row (zqtablerowxx)"]
