"""What users read: entities in lists, pages, reads, and where reads are discovered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.profile.base import WRITES_AS_OTHERS, _Strict
from harness.profile.step_model import Steps


class OwnerSpec(_Strict):
    """How an item of a list names its owner: a JSON pointer into the item, compared with a
    variable of each user (a captured server id, or the username)."""

    field: str = Field(description="JSON pointer into the item, e.g. /owner_id")
    var: str = Field("id", description="the user variable it equals, e.g. id or username")


class PageSpec(_Strict):
    """How a list continues. The harness walks every page up to `max_pages`."""

    next: Literal["link-header", "json", "html", "cursor", "page", "offset"] = Field(
        description="link-header: RFC 8288 rel=next; json: a URL at `pointer`; html: an "
        "<a rel=next>; cursor: a token at `pointer` sent as `param`; page: ?param=N+1; "
        "offset: ?param=offset+len(items)"
    )
    pointer: str | None = Field(None, description="JSON pointer for json/cursor")
    param: str | None = Field(None, description="query parameter for cursor/page/offset")
    size: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="items per page, as the read asks for them: heavy owners get enough rows "
        "to fill 3 pages of it (`heavy.rows`)",
    )
    max_pages: int = Field(
        50,
        ge=1,
        le=10_000,
        description="pages walked at most; a list still going there is lost coverage",
    )


class EntitySpec(_Strict):
    """Things the app lists (orders, messages): the oracle checks each item's owner."""

    lists: list[str] = Field(
        min_length=1, description="routes that list these, e.g. 'GET /api/me/orders'"
    )
    items: str = Field("/items", description="JSON pointer to the array of items")
    id: str = Field("/id", description="JSON pointer into an item to its id")
    owner: OwnerSpec | None = None
    exact: bool = Field(
        False,
        description="the list shows exactly the observer's visible resources of the same "
        "name (a count check: more is a leak, fewer is data loss)",
    )


class ReadSpec(_Strict):
    """What a user looks at. Either one request (`- get: ...`) or `steps` (a chain whose later
    steps use earlier captures). `each` repeats it for every entity of that kind the user has
    seen in a list."""

    name: str | None = None
    roles: list[str] = Field(default_factory=list, description="who does it (default: all)")
    each: str | None = Field(None, description="an entity or resource kind to repeat over")
    steps: Steps = Field(min_length=1)
    page: PageSpec | None = None
    replay: bool | Literal["as-others"] = Field(
        True,
        description="true: the access suite repeats it as other users; false: never (`profile "
        "check` says so); as-others: a write (PUT, PATCH, POST) whose answer is data, sent by "
        "its owner with the owner's own values and repeated, with those same bytes, as every "
        "other actor class",
    )

    @model_validator(mode="before")
    @classmethod
    def _single_request(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "steps" in value:
            return value
        data = dict(value)
        outer = {k: data.pop(k) for k in ("name", "roles", "each", "page", "replay") if k in data}
        return {**outer, "steps": [data]}

    @model_validator(mode="after")
    def _writes_say_how(self) -> ReadSpec:
        method = self.steps[-1].method
        if self.replay == "as-others":
            # A repeated DELETE would destroy the owner's data: what it answers is not worth it
            if method not in WRITES_AS_OTHERS:
                raise ValueError(
                    f"replay: as-others is for a write whose answer is data "
                    f"({', '.join(WRITES_AS_OTHERS)}), not {method}"
                )
        elif self.replay is True and method in ("PUT", "PATCH", "DELETE"):
            raise ValueError(
                f"a {method} among the reads says how it is repeated: `replay: as-others` (sent "
                "as every other user with its owner's own values, which must be the values it "
                "writes) or `replay: false`"
            )
        return self


class DiscoverSpec(_Strict):
    """Reads found in the OpenAPI document: every GET, path parameters filled from values the
    run has observed (ids in lists, captures)."""

    openapi: str = Field(description="URL path (e.g. /openapi.json) or a file path")
    exclude: list[str] = Field(default_factory=list, description="routes never read (fnmatch)")
    max_per_route: int = Field(4, ge=1, le=100, description="filled URLs per route per user")


class HeavySpec(_Strict):
    """Heavy owners: a few users of every role that owns listed data, each seeded with enough
    of every resource to take its lists and exports past 3 pages and past the common batch
    sizes (50, 100 rows), where a bug that only a long list shows hides. A run's population
    overrides `owners` (`--population heavy=N`; 0 turns them off)."""

    owners: int = Field(1, ge=0, le=10, description="heavy owners per role that owns lists")
    rows: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="resources of each kind a heavy owner gets; default: past a batch of 100 "
        "and past 3 pages of every declared page `size`",
    )
    each: int = Field(
        5,
        ge=0,
        le=10_000,
        description="items at each end of one heavy owner's list that an `each` read visits "
        "per user (its first and its last `each`, where what a run made lands): its lists are "
        "walked to the end, its items sampled, so the cost stays bounded",
    )


class CrawlSpec(_Strict):
    """Reads found by following what users receive: HTML links, GET forms, `src`, the
    `Location`, `Link` and `Content-Location` headers and path-like JSON strings, on the
    target's origin only, never to an `unsafe` route, within a per-run bound."""

    max_routes: int = Field(40, ge=1, le=1000, description="new routes read in a run")
    max_requests: int = Field(400, ge=1, le=100_000, description="crawl requests in a run")
    per_route: int = Field(4, ge=1, le=100, description="concrete paths of a route per user")
    exclude: list[str] = Field(default_factory=list, description="routes never crawled (fnmatch)")
