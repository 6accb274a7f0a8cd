"""What a browser rendered, turned into an Observation the oracles can judge.

The body is the visible text, then every attribute value of every element, then the outerHTML.
Text alone would miss a canary hidden in `data-*` or `href` attributes; the outerHTML catches
anything both miss (comments, hidden inputs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.async_api import Page

from harness.models import Observation, SurfaceKind

# Rows to outline when the profile names none: list items and table rows.
DEFAULT_ROWS = "li, tr"

_SNAPSHOT_JS = """([rows, attr]) => {
  const attrs = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) attrs.push(tag + ' ' + a.name + '=' + a.value);
  }
  const text = [document.body ? document.body.innerText : '', attrs.join('\\n'),
                document.documentElement.outerHTML].join('\\n\\n');
  const owners = rows && attr
    ? Array.from(document.querySelectorAll(rows), row => row.getAttribute(attr))
        .filter(value => value !== null)
    : [];
  return [text, owners];
}"""

# Marks rows that hold data the reader may not see, for the screenshot a finding carries.
_HIGHLIGHT_JS = """([rows, attr, canaries, owners]) => {
  let marked = 0;
  for (const row of document.querySelectorAll(rows)) {
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


@dataclass(frozen=True, slots=True)
class Rendered:
    obs: Observation
    owners: list[str]  # the owner attribute of every row that has one, in page order


async def observe(
    page: Page,
    actor: str,
    step: str,
    endpoint: str,
    status: int,
    rows: str | None = None,
    attr: str | None = None,
) -> Rendered:
    """The page as `actor` sees it now, with the status it was served with, and the owners
    its rows (CSS selector `rows`) name in `attr`. One round trip to the browser."""
    text, owners = await page.evaluate(_SNAPSHOT_JS, [rows, attr])
    obs = Observation(
        actor=actor,
        step=step,
        method="GET",
        url=location(page.url),
        endpoint=endpoint,
        status=status,
        headers=(),
        body=str(text).encode("utf-8"),
        time=time.time(),
        content_type="text/plain; charset=utf-8",
        surface_hint=SurfaceKind.DOM,
    )
    return Rendered(obs, [str(o) for o in owners])


async def highlight(
    page: Page, rows: str, attr: str | None, canaries: list[str], owners: list[str]
) -> int:
    """Outline every row (CSS selector `rows`) showing a foreign canary or naming a foreign
    owner in `attr`; returns how many were marked."""
    marked: int = await page.evaluate(_HIGHLIGHT_JS, [rows, attr, canaries, owners])
    return marked


def location(url: str) -> str:
    """Path and query of a URL: what a page is reported under."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
