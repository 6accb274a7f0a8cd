"""One synthetic user in their own browser context, driving the clinic's pages as a person would.

Every method returns the HTTP status of what it did, so the suite can report progress; reading
and judging the rendered page is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Locator, Page, Request, ViewportSize
from playwright.async_api import Response as PageResponse

from harness.errors import InfrastructureError
from harness.models import Actor
from scenarios.browser.errors import target_gone

VIEWPORT = ViewportSize(width=1100, height=800)
_ERROR_PAGE = "chrome-error://"


class _NoReload(Exception):
    """The call page's script only reloads after a 2xx; a refused action stays on the page."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class BrowserUser:
    actor: Actor
    context: BrowserContext
    page: Page
    target: str

    @classmethod
    async def start(
        cls, browser: Browser, actor: Actor, target: str, timeout_ms: float
    ) -> BrowserUser:
        context = await browser.new_context(base_url=target, viewport=VIEWPORT)
        context.set_default_timeout(timeout_ms)
        await context.tracing.start(title=actor.id, screenshots=True, snapshots=True)
        return cls(actor, context, await context.new_page(), target)

    @property
    def path(self) -> str:
        return urlsplit(self.page.url).path

    async def goto(self, path: str) -> int:
        response = await self.page.goto(path)
        return self._landed(response, path)

    def _landed(self, response: PageResponse | None, what: str) -> int:
        if self.page.url.startswith(_ERROR_PAGE):
            raise target_gone(self.target, f"{self.actor.id} {what}: browser error page")
        return response.status if response is not None else 200

    async def login(self) -> int:
        """Log in through the /login form, as a person would."""
        await self.goto("/login")
        await self.page.fill('input[name="username"]', self.actor.id)
        await self.page.fill('input[name="password"]', self.actor.password)
        async with self.page.expect_navigation() as nav:
            await self.page.press('input[name="password"]', "Enter")
        status = self._landed(await nav.value, "login")
        if self.path == "/login":
            raise InfrastructureError(
                f"the /login form did not accept seeded user {self.actor.id}",
                "check that the target's page login matches its API login (clinic/API.md)",
            )
        return status

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    async def press(self, button: Locator) -> int:
        """Click a call button: it POSTs to the JSON API and reloads the page on success.

        Returns the API's status. A refused action (409, 403) leaves the page as it was.
        """
        if await button.count() == 0:
            raise InfrastructureError(
                f"{self.path} has no button {button} for {self.actor.id}",
                "is the flag video-switch on for staging users? (Switch to video needs it)",
            )
        try:
            async with self.page.expect_navigation() as nav:
                async with self.page.expect_request(_is_call_action) as sent:
                    await button.click()
                api = await (await sent.value).response()
                if api is None:
                    raise target_gone(self.target, f"{self.actor.id}: call action got no answer")
                if not api.ok:
                    raise _NoReload(api.status)
            self._landed(await nav.value, "reload")
        except _NoReload as refused:
            return refused.status
        return api.status


def _is_call_action(request: Request) -> bool:
    return request.method == "POST" and "/api/consultations/" in request.url
