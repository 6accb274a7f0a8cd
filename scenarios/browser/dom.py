"""What a browser rendered, turned into an Observation the oracles can judge.

The body is the visible text, then every attribute value of every element, then the outerHTML.
Text alone would miss a canary hidden in `data-*` or `href` attributes; the outerHTML catches
anything both miss (comments, hidden inputs).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from playwright.async_api import Page

from harness.models import Observation, SurfaceKind

# Rows to outline when the profile names none: list items and table rows.
DEFAULT_ROWS = "li, tr"

_SNAPSHOT_JS = """() => {
  const attrs = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) attrs.push(tag + ' ' + a.name + '=' + a.value);
  }
  return [document.body ? document.body.innerText : '', attrs.join('\\n'),
          document.documentElement.outerHTML].join('\\n\\n');
}"""

# Marks rows that hold data the reader may not see, for the screenshot a finding carries.
_HIGHLIGHT_JS = """(rows, [attr, canaries, owners]) => {
  let marked = 0;
  for (const row of rows) {
    const text = (row.textContent + ' ' + Array.from(row.attributes).map(a => a.value).join(' '))
      .toLowerCase();
    const foreignOwner = attr !== null && owners.includes(row.getAttribute(attr) || '');
    if (foreignOwner || canaries.some(c => text.includes(c))) {
      row.style.outline = '4px solid #d00';
      row.style.background = '#ffd6d6';
      row.setAttribute('data-chaperone-leak', 'true');
      marked += 1;
    }
  }
  return marked;
}"""

_ROW_OWNERS_JS = """(rows, attr) => rows
  .map(row => row.getAttribute(attr))
  .filter(value => value !== null)"""


async def snapshot(page: Page) -> bytes:
    text: str = await page.evaluate(_SNAPSHOT_JS)
    return text.encode("utf-8")


async def observe(page: Page, actor: str, step: str, endpoint: str, status: int) -> Observation:
    """The page as `actor` sees it now, with the status the page was served with."""
    return Observation(
        actor=actor,
        step=step,
        method="GET",
        url=location(page.url),
        endpoint=endpoint,
        status=status,
        headers=(),
        body=await snapshot(page),
        time=time.time(),
        content_type="text/plain; charset=utf-8",
        surface_hint=SurfaceKind.DOM,
    )


async def highlight(
    page: Page, rows: str, attr: str | None, canaries: list[str], owners: list[str]
) -> int:
    """Outline every row (selector `rows`) showing a foreign canary or naming a foreign owner
    in `attr`; returns how many were marked."""
    marked: int = await page.locator(rows).evaluate_all(_HIGHLIGHT_JS, [attr, canaries, owners])
    return marked


async def row_owners(page: Page, rows: str, attr: str) -> list[str]:
    """The owner attribute of every row that has one, in page order."""
    owners: list[str] = await page.locator(rows).evaluate_all(_ROW_OWNERS_JS, attr)
    return owners


def location(url: str) -> str:
    """Path and query of a URL: what a page is reported under."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
