"""The target profile: one YAML file that says, in the app's own words, how to drive it.

    roles ──► users (fields: private ones carry canaries, public ones never do; create steps)
    relations ──► who may see whose data (a clinician sees the patients assigned to them)
    resources ──► what each user creates (a book, an appointment), with create steps
    auth ──► login steps, how the credential is applied, re-login on 401 or age
    entities ──► lists the app returns, and which item belongs to whom
    reads ──► what a user looks at (explicit, and discovered from the OpenAPI document)
    flows ──► named multi-step actions (join, switch_to_video ...) the scenarios refer to
    browser, load ──► what the browser and load suites drive

Every HTTP step is a request, then what it captures, then what it expects (Hurl's rhythm).
Strings may hold `{{placeholders}}` (see harness.profile.template). Secrets come from the
environment (`{{env.NAME}}`), never from the file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.config import ROUTE_KEY, RouteSlo
from harness.profile.placeholders import check_placeholders, check_role_names

__all__ = [
    "AuthSpec",
    "BrowserFlow",
    "BrowserSpec",
    "Capture",
    "DiscoverSpec",
    "EffectSpec",
    "EntitySpec",
    "FeatureSpec",
    "FieldSpec",
    "FlowSpec",
    "HttpStep",
    "LoadFlow",
    "LoadRead",
    "LoadSpec",
    "NotificationSpec",
    "OwnerSpec",
    "PageSpec",
    "PushSpec",
    "ReadSpec",
    "RelationSpec",
    "ResourceSpec",
    "RoleSpec",
    "ScenarioSpec",
    "SupportSpec",
    "TargetProfile",
]

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
WRITES_AS_OTHERS = ("PUT", "PATCH", "POST")
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
# A count is the default size; a run's population overrides it by the role's or resource's
# own name (`--population <name>=N`).
Count = Annotated[int, Field(ge=0, le=10_000)]


def _no_named_count(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(
            f"count '{value}' is not a number: give the default size as a number; a run "
            "sets it by this section's own name (--population <name>=N)"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Capture(_Strict):
    """Where a captured value comes from. A bare string in YAML is a JSON pointer."""

    json_pointer: str | None = Field(
        None, alias="json", description="RFC 6901 pointer into the JSON body, e.g. /auth_token"
    )
    header: str | None = Field(None, description="a response header")
    cookie: str | None = Field(None, description="a cookie the response sets")
    regex: str | None = Field(None, description="first group of a regex over the body text")

    @model_validator(mode="before")
    @classmethod
    def _pointer_shorthand(cls, value: Any) -> Any:
        return {"json": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Capture:
        given = [x for x in (self.json_pointer, self.header, self.cookie, self.regex) if x]
        if len(given) != 1:
            raise ValueError("a capture takes exactly one of json, header, cookie, regex")
        if self.regex is not None:
            try:
                compiled = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from None
            if compiled.groups < 1:
                raise ValueError(f"regex {self.regex!r} needs a (group) to capture")
        if self.json_pointer is not None and not self.json_pointer.startswith("/"):
            raise ValueError(f"JSON pointer {self.json_pointer!r} must start with '/'")
        return self


class HttpStep(_Strict):
    """One request. Written `- post: /path` (any HTTP method as the key), then its options."""

    method: str
    path: str = Field(description="path (and query) on the target; may hold {{placeholders}}")
    json_body: Any = Field(None, alias="json", description="JSON body (templated recursively)")
    form: dict[str, str] | None = Field(None, description="form-encoded body")
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["session", "none", "support"] = Field(
        "session",
        description="session: as the acting user; none: no credentials; support: the staging "
        "support API's credentials",
    )
    capture: dict[str, Capture] = Field(default_factory=dict)
    expect: list[int] = Field(
        default_factory=list, description="statuses that mean success (default: any 2xx)"
    )
    range: Literal["halves"] | None = Field(
        None, description="fetch the body in two Range requests, as a media player would"
    )
    route: str | None = Field(
        None,
        description="the route to report this request under, e.g. 'GET /media/{id}', when the "
        "path is a captured URL",
    )

    @model_validator(mode="before")
    @classmethod
    def _method_key(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "method" in value:
            return value
        found = [m for m in METHODS if m in value]
        if len(found) != 1:
            raise ValueError(
                "a step names exactly one HTTP method as its key, e.g. `- get: /api/me`"
            )
        data = dict(value)
        method = found[0]
        data["path"] = data.pop(method)
        data["method"] = method.upper()
        return data

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not (path.startswith("/") or path.startswith("{{")):
            raise ValueError(f"path {path!r} must start with '/' (it is relative to --target)")
        return path

    @field_validator("expect")
    @classmethod
    def _statuses(cls, statuses: list[int]) -> list[int]:
        bad = [s for s in statuses if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"{bad} are not HTTP statuses")
        return statuses


Steps = list[HttpStep]


class FieldSpec(_Strict):
    """One datum of a user or resource. Private fields carry a canary; public ones never do."""

    kind: str = Field(
        "text",
        description="what the datum is (name, email, note, password, nhs_number, phone, title, "
        "reason, username, datetime, text, or any word): shapes the generated value",
    )
    public: bool = Field(False, description="public by design: never gets a canary")
    value: str | None = Field(None, description="a fixed value or template instead of generated")
    expect_seen: bool = Field(
        True,
        description="the owner should see this datum somewhere (a positive control); false for "
        "data the app never shows back, such as a password",
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


class RoleSpec(_Strict):
    count: Count = Field(
        6, description="how many users; a run's population overrides it by the role's name"
    )
    id_prefix: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9]*$", description="actor ids look like <prefix><n>-<tag>"
    )
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    create: Steps = Field(default_factory=list, description="steps that create one user")
    owns_data: bool = Field(
        True, description="users of this role own private data (others only observe)"
    )

    _count = field_validator("count", mode="before")(_no_named_count)


class RelationSpec(_Strict):
    """`observer` users may see the data of the `owner` users they are related to."""

    observer: str
    owner: str
    assign: Literal["round_robin", "all"] = Field(
        "round_robin", description="round_robin: each owner gets one observer; all: everyone"
    )
    create: Steps = Field(
        default_factory=list,
        description="steps that create one pair; {{observer.*}} and {{owner.*}} are in scope",
    )


class ResourceSpec(_Strict):
    owner: str = Field(description="the role that owns these resources")
    count: Count = Field(
        1, description="per owner; a run's population overrides it by the resource's name"
    )
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    create: Steps = Field(min_length=1)
    as_: Literal["owner", "support", "none"] = Field(
        "owner", alias="as", description="who runs the create steps"
    )
    initial_state: str = Field(
        "initial", description="the state flows see first (their `from` lists name states)"
    )

    _count = field_validator("count", mode="before")(_no_named_count)


class SupportSpec(_Strict):
    """A staging support API. Present only if the profile needs one: then (and only then) the
    run asks for a support token."""

    token_env: str = Field("CHAPERONE_SUPPORT_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$")
    headers: dict[str, str] = Field(
        description="headers carrying the token, e.g. {X-Support-Token: '{{support.token}}'}"
    )


class ReloginSpec(_Strict):
    on_status: list[int] = Field([401], description="statuses that mean the session expired")
    every_seconds: float = Field(
        0, ge=0, description="log in again before a session gets this old (0: only on status)"
    )


class AuthSpec(_Strict):
    login: Steps = Field(min_length=1, description="steps that log {{user}} in")
    apply_headers: dict[str, str] = Field(
        default_factory=dict,
        alias="headers",
        description="headers every request of the session carries, e.g. "
        "{Authorization: 'Bearer {{token}}'}",
    )
    cookies: dict[str, str] = Field(default_factory=dict, description="cookies the session sends")
    check: HttpStep | None = Field(
        None,
        description="a read that answers 2xx for any live session: tells a denial from an "
        "expired session",
    )
    relogin: ReloginSpec = ReloginSpec()


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
    max_pages: int = Field(50, ge=1, le=10_000)


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


class CrawlSpec(_Strict):
    """Reads found by following what users receive: HTML links, GET forms, `src`, the
    `Location`, `Link` and `Content-Location` headers and path-like JSON strings, on the
    target's origin only, never to an `unsafe` route, within a per-run bound."""

    max_routes: int = Field(40, ge=1, le=1000, description="new routes read in a run")
    max_requests: int = Field(400, ge=1, le=100_000, description="crawl requests in a run")
    per_route: int = Field(4, ge=1, le=100, description="concrete paths of a route per user")
    exclude: list[str] = Field(default_factory=list, description="routes never crawled (fnmatch)")


class EffectSpec(_Strict):
    """How a flow changes who may see what, recorded the moment the flow completes:
    `relation` + `change` (move: to another observer of the same role; end: nobody), or
    `deny` an entity kind the flow acted on, to the owner's related observers or everyone."""

    relation: str | None = None
    change: Literal["move", "end"] | None = None
    deny: str | None = None
    to: Literal["related", "everyone"] = "related"

    @model_validator(mode="after")
    def _one_kind(self) -> EffectSpec:
        if (self.relation is None) == (self.deny is None):
            raise ValueError("an effect either changes a `relation` or `deny`s an entity kind")
        if self.relation is not None and self.change is None:
            raise ValueError("a relation effect needs `change: move` or `change: end`")
        return self


class FlowSpec(_Strict):
    """A named action a scenario refers to. `resource` binds it to one of the actor's
    resources (the n-th appointment for the n-th scenario)."""

    steps: Steps = Field(min_length=1)
    resource: str | None = Field(
        None, description="the resource kind it acts on; {{<kind>.*}} is in scope"
    )
    as_: list[str] = Field(
        default_factory=list,
        alias="as",
        description="roles that perform it (default: the resource's owner role)",
    )
    conflict: list[int] = Field(
        default_factory=list,
        description="statuses meaning 'not possible in this state' (fine when exploring)",
    )
    from_states: list[str] = Field(
        default_factory=list, alias="from", description="states of `on` it applies in"
    )
    to_state: str | None = Field(None, alias="to", description="the state it leaves `on` in")
    creates: str | None = Field(
        None, description="an entity kind this flow makes appear in the owner's lists"
    )
    by: str | None = Field(
        None,
        description="a relation name: the flow is performed by the owner's related observer "
        "(a case worker handing their client over), not the owner",
    )
    entity: str | None = Field(
        None,
        description="an entity kind: the flow acts on the owner's most recent entity of that "
        "kind seen in a list ({{<kind>.*}} in scope), e.g. an order to cancel",
    )
    effect: EffectSpec | None = None


class ScenarioSpec(_Strict):
    """A switch-suite scenario: phases run in turn, each for every owner at once."""

    name: Name
    description: str = ""
    phases: list[str] = Field(
        min_length=1,
        description="flow names, `look` (every user reads everything it can reach), "
        "`pause:SECONDS`, or `rejoin` (the `rejoin` flow, or `join` again), run for every owner",
    )
    browser: bool = Field(
        True,
        description="the browser suite plays it too (when its flows have controls); false "
        "leaves it to the switch suite, since a browser goes at a person's pace",
    )


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


class FeatureSpec(_Strict):
    """How to exercise the flagged feature, for `watch` probes: the flows each owner runs, the
    one the flag gates, and the statuses meaning "the flag is off for this user"."""

    flows: list[str] = Field(min_length=1)
    gated: str
    refused: list[int] = Field([403])


class PushSpec(_Strict):
    websocket: str | None = Field(
        None, description="path of a WebSocket that pushes events to a logged-in user"
    )


class RecipientSpec(_Strict):
    recipient: str = Field(description="the user variable holding the address (email, phone)")


class NotificationSpec(_Strict):
    """Where a target's notifications arrive: the harness runs an SMTP server and an SMS
    webhook sink (`--smtp-listen`, `--sms-listen`); staging must be configured to use them."""

    mail: RecipientSpec | None = None
    sms: RecipientSpec | None = None
    flush: HttpStep | None = Field(
        None, description="a call that returns once every queued notification was sent"
    )


class TargetProfile(_Strict):
    name: Name
    description: str = ""
    health: HttpStep | None = Field(None, description="a request that proves the app is up")
    support: SupportSpec | None = None
    reset: Steps = Field(default_factory=list, description="steps that empty the staging data")
    roles: dict[Name, RoleSpec] = Field(min_length=1)
    relations: dict[Name, RelationSpec] = Field(default_factory=dict)
    see_all: list[str] = Field(default_factory=list, description="roles that may see everyone's")
    resources: dict[Name, ResourceSpec] = Field(default_factory=dict)
    auth: AuthSpec
    entities: dict[Name, EntitySpec] = Field(default_factory=dict)
    reads: list[ReadSpec] = Field(default_factory=list)
    discover: DiscoverSpec | None = None
    crawl: CrawlSpec | None = None
    unsafe: list[str] = Field(
        default_factory=list,
        description="routes never sent automatically (fnmatch): not by the fuzz suite, the "
        "crawl, discovery or variants. A read `reads:` lists is still read and replayed",
    )
    flows: dict[Name, FlowSpec] = Field(default_factory=dict)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    browser: BrowserSpec | None = None
    load: LoadSpec | None = None
    feature: FeatureSpec | None = None
    push: PushSpec | None = None
    notifications: NotificationSpec | None = None

    @model_validator(mode="after")
    def _references(self) -> TargetProfile:
        roles = sorted(self.roles)
        named = [("see_all", r) for r in self.see_all]
        named += [(f"relations.{n}", r.observer) for n, r in self.relations.items()]
        named += [(f"relations.{n}", r.owner) for n, r in self.relations.items()]
        named += [(f"resources.{n}.owner", r.owner) for n, r in self.resources.items()]
        named += [(f"reads[{i}].roles", r) for i, s in enumerate(self.reads) for r in s.roles]
        named += [(f"flows.{n}.as", r) for n, f in self.flows.items() for r in f.as_]
        for where, role in named:
            _known(where, "role", role, roles, "roles")
        kinds = sorted(set(self.entities) | set(self.resources))
        for i, read in enumerate(self.reads):
            if read.each is not None:
                _known(f"reads[{i}].each", "entity or resource", read.each, kinds, "entities")
        for name, flow in self.flows.items():
            if flow.resource is not None:
                _known(
                    f"flows.{name}.resource",
                    "resource",
                    flow.resource,
                    sorted(self.resources),
                    "resources",
                )
            if flow.by is not None:
                _known(f"flows.{name}.by", "relation", flow.by, sorted(self.relations), "relations")
            if flow.entity is not None:
                _known(
                    f"flows.{name}.entity", "entity", flow.entity, sorted(self.entities), "entities"
                )
            effect = flow.effect
            if effect is not None and effect.relation:
                _known(
                    f"flows.{name}.effect.relation",
                    "relation",
                    effect.relation,
                    sorted(self.relations),
                    "relations",
                )
            if effect is not None and effect.deny and effect.deny != flow.entity:
                raise ValueError(
                    f"flows.{name}.effect denies '{effect.deny}' but acts on entity "
                    f"'{flow.entity}'; deny the entity the flow acts on"
                )
        if self.feature is not None:
            for needed in (*self.feature.flows, self.feature.gated):
                _known("feature", "flow", needed, sorted(self.flows), "flows")
        self._check_scenarios()
        return self

    def _check_scenarios(self) -> None:
        names = [s.name for s in self.scenarios]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"scenarios name '{twice[0]}' twice; give each scenario its own name")
        for scenario in self.scenarios:
            for phase in scenario.phases:
                base = phase.split(":", 1)[0]
                _known(
                    f"scenario '{scenario.name}' phase",
                    "flow, look, pause or rejoin",
                    base,
                    [*sorted(self.flows), "look", "pause", "rejoin"],
                    "flows",
                )

    @model_validator(mode="after")
    def _placeholders(self) -> TargetProfile:
        check_role_names(self)
        check_placeholders(self)
        return self

    def needs_support(self) -> bool:
        """Does any step use the staging support API (so a support token is required)?"""
        return self.support is not None

    def owner_roles(self) -> list[str]:
        return [name for name, role in self.roles.items() if role.owns_data]

    def observer_roles(self) -> list[str]:
        """Roles that only observe: a relation's observer that owns no resource and is no
        relation's owner. The rest own data and play the scenarios."""
        owning = {r.owner for r in self.relations.values()}
        owning |= {r.owner for r in self.resources.values()}
        watching = {r.observer for r in self.relations.values()}
        return [name for name in self.roles if name in watching and name not in owning]


def _known(where: str, what: str, name: str, choices: list[str], section: str) -> None:
    """Refuse a reference to something the profile does not define, naming the nearest one."""
    if name in choices:
        return
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"define it under {section}"
    known = ", ".join(choices) if choices else "none"
    raise ValueError(f"{where} names {what} '{name}', which is not defined ({hint} known: {known})")
