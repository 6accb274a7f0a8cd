"""One synthetic user in their own browser context, using the target's pages as a person would.

Every method returns the HTTP status of what it did, so the suite can report progress; what
to open and click comes from the profile (the suite renders it), and reading and judging the
rendered page is left to the caller.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Request,
    Route,
    ViewportSize,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response as PageResponse

from harness.errors import InfrastructureError
from harness.models import Actor
from scenarios.browser.dom import location
from scenarios.browser.errors import target_gone

VIEWPORT = ViewportSize(width=1100, height=800)
MAX_TRAFFIC = 2000  # GET URLs kept per user: what the pages asked for joins the reads
_ERROR_PAGE = "chrome-error://"


@dataclass(frozen=True, slots=True)
class Clicked:
    """The request a click sent (the first that was not a GET) and how it was answered."""

    method: str
    path: str
    status: int
    detail: str = ""  # the start of a refusal's body, for the error message
    landed: int = 200  # the status of the page the click loaded (the page, if it loaded none)

    @property
    def ok(self) -> bool:
        return self.status < 400


class _NoReload(Exception):
    """A refused action loads no page: leave the navigation wait."""

    def __init__(self, clicked: Clicked) -> None:
        super().__init__(clicked.status)
        self.clicked = clicked


@dataclass
class BrowserUser:
    actor: Actor
    context: BrowserContext
    page: Page
    target: str
    traffic: list[str] = field(default_factory=list)  # every GET URL the pages requested
    # Requests the pages made to another origin, by host: blocked, never sent (`confine`).
    blocked: Counter[str] = field(default_factory=Counter)

    # The tab a real call lives in (`in_call_tab`), open from the join to the end.
    call_page: Page | None = None

    @classmethod
    async def start(
        cls,
        browser: Browser,
        actor: Actor,
        target: str,
        timeout_ms: float,
        permissions: Sequence[str] = (),
    ) -> BrowserUser:
        context = await browser.new_context(
            base_url=target, viewport=VIEWPORT, permissions=list(permissions)
        )
        context.set_default_timeout(timeout_ms)
        # DOM snapshots of every action, no screencast: the trace viewer rebuilds each page
        # from its snapshot, and a finding has its own outlined screenshot (Evidence). The
        # screencast's JPEG frames took an eighth of the suite's CPU, Chromium's included.
        await context.tracing.start(title=actor.id, screenshots=False, snapshots=True)
        user = cls(actor, context, await context.new_page(), target)
        context.on("request", user.saw)
        # Before the first page: a page that references another host (a tracker, a CDN, a
        # link to production) must not make Chromium send synthetic users' traffic there.
        await context.route("**/*", user.confine)
        return user

    async def confine(self, route: Route) -> None:
        """Playwright's route handler: the target's own origin goes through, anything else
        is aborted as blocked by the client and counted."""
        url = route.request.url
        if same_origin(url, self.target):
            await route.continue_()
            return
        self.blocked[urlsplit(url).hostname or url.split(":", 1)[0]] += 1
        await route.abort("blockedbyclient")

    @contextlib.asynccontextmanager
    async def in_call_tab(self) -> AsyncIterator[None]:
        """Act in the call's own tab (opened on first use): a real call hangs up when its page
        is left, so the looks between a call's flows read pages in the user's first tab."""
        if self.call_page is None:
            self.call_page = await self.context.new_page()
        first, self.page = self.page, self.call_page
        try:
            yield
        finally:
            self.page = first

    def saw(self, request: Request) -> None:
        """Playwright's request event: a GET a page made (documents, fetch/XHR, images)."""
        if request.method == "GET" and len(self.traffic) < MAX_TRAFFIC:
            self.traffic.append(request.url)

    @property
    def path(self) -> str:
        return urlsplit(self.page.url).path

    @property
    def location(self) -> str:
        return location(self.page.url)

    async def next_page(self, selector: str) -> str | None:
        """The absolute URL the page's next-page link points to, if it has one on the target
        (a link elsewhere is never followed: traffic stays on the target)."""
        link = self.page.locator(selector).first
        if await link.count() == 0:
            return None
        href = await link.get_attribute("href")
        if not href:
            return None
        url = urljoin(self.page.url, href)
        here, there = urlsplit(self.page.url), urlsplit(url)
        return url if (here.scheme, here.netloc) == (there.scheme, there.netloc) else None

    async def goto(self, path: str) -> int:
        response = await self.page.goto(path)
        return self._landed(response, path)

    def _landed(self, response: PageResponse | None, what: str) -> int:
        if self.page.url.startswith(_ERROR_PAGE):
            raise target_gone(self.target, f"{self.actor.id} {what}: browser error page")
        return response.status if response is not None else 200

    async def login(self, page: str, fields: Mapping[str, str], submit: str) -> int:
        """Fill the login form on `page` (selector -> value) and submit it."""
        await self.goto(page)
        for selector, value in fields.items():
            await (await self.control(selector)).fill(value)
        button = await self.control(submit)
        async with self.page.expect_navigation() as nav:
            await button.click()
        status = self._landed(await nav.value, "login")
        if self.path == urlsplit(page).path:
            raise InfrastructureError(
                f"the login form on {page} did not accept seeded user {self.actor.id}",
                "check browser.login_fields against the form and that the user was created",
            )
        return status

    async def control(self, selector: str) -> Locator:
        """The first element `selector` matches; none is an InfrastructureError naming it."""
        found = self.page.locator(selector)
        if await found.count() == 0:
            raise InfrastructureError(
                f"{self.path} has no {selector} for {self.actor.id}",
                "fix the selector in the profile's browser section to match the page (a "
                "control behind a feature flag needs the flag on for staging users)",
            )
        return found.first

    async def click(self, selector: str, reloads: bool) -> Clicked:
        """Click a control and wait for the request it sends (and for the page it loads, when
        `reloads`). A refused action (a 4xx) loads no page and is returned as it was answered.
        """
        control = await self.control(selector)
        if not reloads:
            return await self._send(control)
        try:
            async with self.page.expect_navigation() as nav:
                clicked = await self._send(control)
                if not clicked.ok:
                    raise _NoReload(clicked)
            landed = self._landed(await nav.value, "reload")
        except _NoReload as refused:
            return refused.clicked
        return replace(clicked, landed=landed)

    async def _send(self, control: Locator) -> Clicked:
        async with self.page.expect_request(_not_get) as sent:
            await control.click()
        request = await sent.value
        response = await request.response()
        if response is None:
            raise target_gone(self.target, f"{self.actor.id}: {request.method} got no answer")
        detail = ""
        if response.status >= 400:
            with contextlib.suppress(PlaywrightError):
                detail = (await response.text())[:200].replace("\n", " ")
        return Clicked(request.method, urlsplit(request.url).path, response.status, detail)


def _not_get(request: Request) -> bool:
    return request.method not in ("GET", "HEAD")


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def same_origin(url: str, target: str) -> bool:
    """Scheme, host and port of `url` are the target's (a default port written or not)."""
    try:
        a, b = urlsplit(url), urlsplit(target)
        ports = (a.port or _DEFAULT_PORTS.get(a.scheme), b.port or _DEFAULT_PORTS.get(b.scheme))
    except ValueError:
        return False
    host = (a.hostname or "").lower()
    return (a.scheme, host, ports[0]) == (b.scheme, (b.hostname or "").lower(), ports[1])
