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

_SNAPSHOT_JS = """() => {
  const attrs = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) attrs.push(tag + ' ' + a.name + '=' + a.value);
  }
  return [document.body ? document.body.innerText : '', attrs.join('\\n'),
          document.documentElement.outerHTML].join('\\n\\n');
}"""

# Marks list items that hold another patient's data, for the screenshot a finding carries.
_HIGHLIGHT_JS = """([canaries, patientIds]) => {
  let marked = 0;
  for (const li of document.querySelectorAll('li')) {
    const text = (li.textContent + ' ' + Array.from(li.attributes).map(a => a.value).join(' '))
      .toLowerCase();
    const foreignId = patientIds.includes(li.getAttribute('data-patient-id') || '');
    if (foreignId || canaries.some(c => text.includes(c))) {
      li.style.outline = '4px solid #d00';
      li.style.background = '#ffd6d6';
      li.setAttribute('data-chaperone-leak', 'true');
      marked += 1;
    }
  }
  return marked;
}"""

_RECORDING_OWNERS_JS = """() => Array.from(
  document.querySelectorAll('section#recordings li.recording'),
  li => li.getAttribute('data-patient-id') || '')"""


async def snapshot(page: Page) -> bytes:
    text: str = await page.evaluate(_SNAPSHOT_JS)
    return text.encode("utf-8")


async def observe(page: Page, actor: str, step: str, endpoint: str, status: int) -> Observation:
    """The page as `actor` sees it now, with the status the page was served with."""
    return Observation(
        actor=actor,
        step=step,
        method="GET",
        url=_path(page.url),
        endpoint=endpoint,
        status=status,
        headers=(),
        body=await snapshot(page),
        time=time.time(),
        content_type="text/plain; charset=utf-8",
        surface_hint=SurfaceKind.DOM,
    )


async def highlight(page: Page, canaries: list[str], patient_ids: list[str]) -> int:
    marked: int = await page.evaluate(_HIGHLIGHT_JS, [canaries, patient_ids])
    return marked


async def recording_owner_ids(page: Page) -> list[str]:
    owners: list[str] = await page.evaluate(_RECORDING_OWNERS_JS)
    return owners


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
