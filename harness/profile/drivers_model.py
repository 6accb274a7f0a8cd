"""What the browser and load suites drive."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.config import ROUTE_KEY, RouteSlo
from harness.profile.base import _Strict


class BrowserFlow(_Strict):
    """How a person performs one flow in the page: open `page`, then click `click`. Both are
    templated with the acting user (`{{user.*}}`) and the flow's resource
    (`{{appointment.*}}`). The first request the click sends that is not a GET is the flow's
    outcome: like the API flow, it must succeed (a 2xx or 3xx)."""

    page: str | None = Field(
        None,
        description="open this page first (templated path), e.g. "
        "/orders/{{order.id}}; omitted: click where the user is",
    )
    click: str = Field(
        description="selector of the control to click (Playwright syntax: CSS such as "
        "'#switch-to-video', or 'role=button[name=\"Join\"]')"
    )
    reloads: bool = Field(
        True,
        description="a successful click loads a page (a form post, a script reload): wait "
        "for it before reading the page",
    )

    @field_validator("page")
    @classmethod
    def _absolute(cls, page: str | None) -> str | None:
        if page is not None and not page.startswith(("/", "{{")):
            raise ValueError(f"page {page!r} must start with '/' (it is relative to --target)")
        return page


class BrowserCallMedia(_Strict):
    """How the call page shows its real call (`--media real`): the suite clicks a media flow
    (the profile's `media.flows`) in a tab that stays open for the whole call, then waits for
    `settled` before it reads the page; `failed` matched then is the flow's failure, with the
    text of `message` quoted."""

    settled: str = Field(
        description="selector matched once the page's media is what its buttons say, e.g. "
        "'#media[data-settled=yes]'"
    )
    failed: str | None = Field(
        None, description="selector matched when the page's media failed (getUserMedia, offer)"
    )
    message: str | None = Field(None, description="selector of the page's error text")
    settle_ms: float = Field(30_000, gt=0, description="how long a click may take to settle")


class BrowserSpec(_Strict):
    """What the browser suite drives in a real browser, as a person would: log in through the
    login form, perform the scenarios' flows by clicking controls, then read each role's
    pages. The rendered text and attribute values are judged. Selectors use Playwright's
    syntax (CSS by default). Without this section the browser suite does not apply."""

    login_page: str = Field("/login", description="the page holding the login form")
    login_fields: dict[str, str] = Field(
        min_length=1,
        description="selector -> templated value, e.g. "
        "{'input[name=username]': '{{user.username}}'}",
    )
    login_submit: str = Field(
        "button[type=submit]", description="selector of the control that submits the form"
    )
    pages: dict[str, list[str]] = Field(
        default_factory=dict,
        description="role -> pages it reads after the flows (templated paths), e.g. "
        "{customer: [/profile]}",
    )
    flows: dict[str, BrowserFlow] = Field(
        default_factory=dict,
        description="flow name (as under flows) -> the control a person uses for it",
    )
    row: str | None = Field(
        None,
        description="CSS selector of one listed item on the pages (e.g. li): a foreign one "
        "is outlined in a finding's screenshot (default: list items and table rows)",
    )
    row_owner_attr: str | None = Field(
        None,
        description="attribute of a row naming its owner (e.g. data-owner-id): a row of "
        "someone the reader may not see is a finding even when it shows no canary",
    )
    row_owner_var: str = Field(
        "id", description="the user variable that attribute equals (a captured id, username)"
    )
    next_page: str | None = Field(
        None,
        description="selector of a page's link to its next page (e.g. 'a[rel=next]'): the "
        "suite follows it, as a person paging through their list would, and judges "
        "every page; without it only the first page of each is read",
    )
    max_pages: int = Field(
        50, ge=1, le=1000, description="at most this many pages are followed from one page"
    )
    call_media: BrowserCallMedia | None = Field(
        None,
        description="the call page's real call (with --media real, each caller gets a "
        "Chromium whose fake camera and microphone carry their canary); omitted: the browser "
        "suite sends no media",
    )

    @field_validator("login_page")
    @classmethod
    def _login_absolute(cls, page: str) -> str:
        if not page.startswith("/"):
            raise ValueError(f"login_page {page!r} must start with '/'")
        return page

    @field_validator("pages")
    @classmethod
    def _pages_absolute(cls, pages: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, paths in pages.items():
            for path in paths:
                if not path.startswith(("/", "{{")):
                    raise ValueError(f"pages.{role}: {path!r} must start with '/'")
        return pages

    @model_validator(mode="after")
    def _owner_needs_rows(self) -> BrowserSpec:
        if self.row_owner_attr is not None and self.row is None:
            raise ValueError("row_owner_attr needs row (the selector of the rows it is on)")
        return self

    def unknown_names(self, roles: Iterable[str], flows: Iterable[str]) -> list[str]:
        """Roles and flows this section names that the profile does not define."""
        known_roles, known_flows = set(roles), set(flows)
        problems = [
            f"browser.pages names role '{r}', which is not under roles"
            for r in self.pages
            if r not in known_roles
        ]
        problems += [
            f"browser.flows names flow '{f}', which is not under flows"
            for f in self.flows
            if f not in known_flows
        ]
        return problems


class LoadRead(_Strict):
    """A read the load suite's users repeat, picked by weight among those their role may do."""

    read: str = Field(
        description="a read under `reads:` (its name, or the route of one of its steps, e.g. "
        "'GET /api/me/orders'), or a GET route discovered from the OpenAPI document"
    )
    weight: int = Field(1, ge=1)
    pick: Literal["own", "any"] = Field(
        "own",
        description="for an `each` read: own reads an entity the user saw in its own lists or a "
        "resource it may see; any reads any user's (a title another user's data shows in a "
        "public list): a denial (403/404) is then expected, the data is a leak",
    )


class LoadFlow(_Strict):
    """A journey a load user takes on each of its resources in turn: `flow`, then the `waves`
    flows in turn, one per wave, `rounds` times, then the `finish` flows; then the same on the
    user's next resource. Waves start on wall-clock instants every load user in every process
    shares, so the same flow really overlaps across users (a race only shows when requests
    interleave). After each flow that `creates` an entity kind, the user reads the lists that
    show that kind, which is where a misfiled item becomes visible."""

    flow: str = Field(description="the flow that starts the journey, e.g. join")
    weight: int = Field(1, ge=1, description="share of the flow users that take this journey")
    waves: list[str] = Field(
        default_factory=list, description="flows run one per wave, in turn (e.g. the switches)"
    )
    rounds: int = Field(4, ge=0, le=1000, description="waves per resource")
    finish: list[str] = Field(
        default_factory=list, description="flows that close the journey (e.g. end)"
    )


class LoadSpec(_Strict):
    reads: list[LoadRead] = Field(default_factory=list)
    discovered: int = Field(
        0,
        ge=0,
        description="the weight at which each GET route the run discovers and `reads` does not "
        "name joins the load's reads: the OpenAPI document's, an imported HAR's (`--har`), the "
        "crawl's. 0 (the default) leaves them out",
    )
    flows: list[LoadFlow] = Field(default_factory=list)
    slo: dict[str, RouteSlo] = Field(
        default_factory=dict,
        description="route -> its objective under load and the default limit, e.g. "
        "{'GET /api/items': {p95_ms: 1500}}; a policy or `--slo` may change a limit. Only "
        "routes named here have a latency objective",
    )

    @field_validator("slo")
    @classmethod
    def _route_keys(cls, slo: dict[str, RouteSlo]) -> dict[str, RouteSlo]:
        for route in slo:
            if not re.match(ROUTE_KEY, route):
                raise ValueError(f"'{route}' is not a route; write it as METHOD /path")
        return slo

    def flow_names(self) -> list[str]:
        """Every profile flow the journeys name."""
        names = [n for f in self.flows for n in (f.flow, *f.waves, *f.finish)]
        return list(dict.fromkeys(names))
