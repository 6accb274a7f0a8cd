"""The browser run, in lockstep phases: every user logs in through the form, then each planned
scenario runs phase by phase: its flows clicked in the page, its looks read from each role's
pages, every rendered page judged.

Each phase drives every user at once (one browser context each, asyncio.gather) and waits for
all of them before the next, so every owner is in a call when the switches happen: the 2020
fault needed overlapping calls, and a staggered run passes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.adapters import Session
from harness.adapters.capabilities import CALLS, DISCOVERY
from harness.client.har import traffic_routes
from harness.client.scope import scope_for
from harness.errors import ConfigError, InfrastructureError, TargetUnreachable
from harness.events import CaseFinished, Event, FindingRaised, StepFinished, SuiteFinished
from harness.models import Actor, Finding, Observation, Step, Verdict
from harness.profile.model import BrowserSpec
from harness.profile.template import render, route_of
from harness.suites import RunContext
from harness.world import Resource
from scenarios.browser.calls import BrowserCalls
from scenarios.browser.dom import observe
from scenarios.browser.errors import translate
from scenarios.browser.evidence import Evidence
from scenarios.browser.launch import confined_playwright, launch_chromium
from scenarios.browser.listing import foreign_rows, own_rows
from scenarios.browser.plan import Cast, Entry, browser_flow, flow_phases
from scenarios.browser.user import BrowserUser
from scenarios.controls import Witness
from scenarios.media_calls import note_stored_call, report_unfilmed

SUITE = "browser"
ACTION_TIMEOUT_MS = 20_000
SETUP = "setup"  # the scene name of the login phase, which belongs to no scenario

UserWork = Callable[[BrowserUser], Awaitable[list[Event]]]


@dataclass
class Scene:
    """One scenario in progress: its resource slot, what everyone did, what was found."""

    name: str
    slot: int
    witness: Witness | None = None
    steps: list[Step] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    lookers: set[str] = field(default_factory=set)

    def step(self, actor: str, what: str) -> str:
        return f"{SUITE}/{self.name}/{actor}/{what}"


@dataclass(frozen=True, slots=True)
class Judged:
    obs: Observation
    events: list[Event]
    own: int  # rows naming the reader as their owner


class BrowserRun:
    def __init__(self, ctx: RunContext, spec: BrowserSpec, cast: Cast, plan: list[Entry]) -> None:
        self.ctx = ctx
        self.spec = spec
        self.cast = cast
        self.plan = plan
        self.evidence = Evidence(ctx.out_dir / SUITE)
        self.shots: dict[str, tuple[tuple[str, str], ...]] = {}  # finding key -> its evidence
        self.found: dict[str, Finding] = {}  # every distinct finding, by key
        self.pages = 0
        self.own_rows: dict[str, int] = {}  # reader -> own rows on their pages, last look
        self.users: list[BrowserUser] = []
        self.traffic: list[str] = []  # GET URLs the users' pages requested
        self.blocked: Counter[str] = Counter()  # requests to other origins, by host, blocked
        self.calls = self._media()  # real calls (`--media real`), else None
        self.sessions: dict[str, Session] = {}  # API sessions, for the recordings' reads

    async def events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        async with confined_playwright() as playwright:
            browser = await launch_chromium(playwright, self.ctx.options.chromium)
            failed = True
            try:
                if self.calls is not None:
                    options, world = self.ctx.options, self.ctx.world
                    await self.calls.launch(playwright, options.chromium, world, self._callers())
                await self._start(browser)
                setup = Scene(SETUP, 0)
                async for event in self._phase(setup, "login", self.users, self._login):
                    yield event
                for entry in self.plan:
                    if self.ctx.cancel.is_set():
                        break
                    async for event in self._case(entry):
                        yield event
                failed = self.ctx.cancel.is_set()
                await self._close_users(keep_all=False)
                if self.calls is not None:
                    report_unfilmed(self.ctx)  # every look has judged the calls' recordings
                self._traffic()
                yield self._finished(time.monotonic() - started)
            finally:
                await self._close_users(keep_all=failed)
                if self.calls is not None:
                    await self.calls.close()
                await browser.close()

    def _media(self) -> BrowserCalls | None:
        """Real calls when the run asks for them and the target's calls are real."""
        calls = self.ctx.capability(CALLS)
        plan = calls.media_plan() if calls is not None else None
        if self.ctx.options.media != "real" or plan is None:
            return None
        if self.spec.call_media is None:
            raise ConfigError(
                "--media real, but the profile's browser section has no call_media",
                "say how the call page shows its media (browser.call_media, docs/media.md) or "
                "drop --media real",
            )
        return BrowserCalls(self.spec.call_media, plan, self.ctx.world.calls)

    def _callers(self) -> list[Actor]:
        """The owners who join a call in a scenario that runs: each gets their own Chromium."""
        assert self.calls is not None
        phases = [p for e in self.plan if not e.skipped for p in flow_phases(e.scenario.phases)]
        starts = {
            f for f in (browser_flow(self.spec, p) for p in phases) if f in self.calls.plan.start
        }
        joining = {a.id for flow in starts for a in self.performers(flow)}
        return [a for a in self.cast.owners if a.id in joining]

    async def _start(self, browser: Browser) -> None:
        """Open every user's context at once: one after another they cost about 0.4 s each
        before anyone logged in. Users that started are kept (and closed by the caller) even
        when another failed to."""
        started = await asyncio.gather(
            *(self._open(actor, browser) for actor in self.cast.everyone),
            return_exceptions=True,
        )
        self.users += [u for u in started if isinstance(u, BrowserUser)]
        failed = next((e for e in started if isinstance(e, BaseException)), None)
        if failed is not None:
            raise failed

    async def _open(self, actor: Actor, shared: Browser) -> BrowserUser:
        """The user's context: in a caller's own Chromium (camera and microphone granted), or
        in the shared one."""
        browser, granted = shared, tuple[str, ...]()
        if self.calls is not None:
            browser, granted = self.calls.browser_for(actor.id, shared)
        target = self.ctx.target
        return await BrowserUser.start(browser, actor, target, ACTION_TIMEOUT_MS, granted)

    async def _phase(
        self, scene: Scene, name: str, users: list[BrowserUser], work: UserWork
    ) -> AsyncIterator[Event]:
        """Run one phase for every user at once. Events of users that succeeded still count."""
        results = await asyncio.gather(*(work(u) for u in users), return_exceptions=True)
        error: Exception | None = None
        for user, result in zip(users, results, strict=True):
            if isinstance(result, BaseException):
                step = scene.step(user.actor.id, name)
                error = error or translate(result, self.ctx.target, step)
                continue
            for event in result:
                yield event
        if error is not None:
            raise error

    # -- scenarios ---------------------------------------------------------------------------

    async def _case(self, entry: Entry) -> AsyncIterator[Event]:
        if entry.skipped:
            name, reason = entry.scenario.name, entry.skipped
            yield CaseFinished(SUITE, name, Verdict.PASS, 0.0, reason, skipped=reason)
            return
        started = time.time()
        scene = Scene(entry.scenario.name, entry.slot, Witness(self.ctx.world))
        for phase in entry.scenario.phases:
            if self.ctx.cancel.is_set():
                return
            if phase.startswith("pause"):
                await asyncio.sleep(float(phase.partition(":")[2] or 0.05))
                continue
            users, work = self._work(scene, phase)
            async for event in self._phase(scene, phase, users, work):
                yield event
        assert scene.witness is not None
        # Raises NoEffect when the suite found no leak and owners saw none of their own data.
        # The findings go in as a list: main's Witness.verdict takes them (to tell leaks from
        # other findings), this branch's takes a bool, and a list means the same to both.
        findings: Any = list(self.found.values())
        scene.witness.verdict(findings, scene.lookers)
        keys = tuple(dict.fromkeys(scene.keys))
        yield CaseFinished(
            SUITE,
            scene.name,
            Verdict.FAIL if keys else Verdict.PASS,
            time.time() - started,
            message=f"{len(keys)} finding(s) on rendered pages" if keys else "",
            finding_keys=keys,
        )

    def _work(self, scene: Scene, phase: str) -> tuple[list[BrowserUser], UserWork]:
        if phase == "look":
            return self.users, partial(self._look, scene)
        flow = browser_flow(self.spec, phase)
        return self._actors_for(flow), partial(self._flow, scene, flow)

    def _actors_for(self, flow: str) -> list[BrowserUser]:
        performers = {a.id for a in self.performers(flow)}
        return [u for u in self.users if u.actor.id in performers]

    def performers(self, flow: str) -> list[Actor]:
        """Who performs `flow`: cast owners of its resource kind (of its roles, if it names
        any), or cast users of its roles when it acts on no resource."""
        spec = self.ctx.adapter.profile.flows[flow]
        roles = set(spec.as_)
        if spec.resource is None:
            roles = roles or set(self.ctx.adapter.profile.owner_roles())
            return [a for a in self.cast.everyone if a.role in roles]
        return [
            a
            for a in self.cast.owners
            if self.ctx.world.resources_of(a.id, spec.resource) and (not roles or a.role in roles)
        ]

    def total_steps(self) -> int:
        """How many steps the run will report (logins, clicks, page reads), for progress."""
        total = len(self.cast.everyone)
        for entry in self.plan:
            for phase in () if entry.skipped else entry.scenario.phases:
                if phase == "look":
                    total += sum(len(self.spec.pages.get(a.role, ())) for a in self.cast.everyone)
                elif not phase.startswith("pause"):
                    total += len(self.performers(browser_flow(self.spec, phase)))
        return total

    def _resource(self, actor: str, flow: str, slot: int) -> Resource | None:
        kind = self.ctx.adapter.profile.flows[flow].resource
        mine = self.ctx.world.resources_of(actor, kind) if kind is not None else ()
        return mine[slot % len(mine)] if mine else None

    def _scope(self, actor: Actor, resource: Resource | None = None) -> dict[str, Any]:
        """The placeholder values every driver renders with: relations and the support token
        included, as the harness and the load render theirs."""
        profile, ctx = self.ctx.adapter.profile, self.ctx
        return scope_for(profile, ctx.world, actor, resource, ctx.support_token)

    # -- what each user does -----------------------------------------------------------------

    async def _login(self, user: BrowserUser) -> list[Event]:
        spec, scope = self.spec, self._scope(user.actor)
        fields = {selector: render(value, scope) for selector, value in spec.login_fields.items()}
        status = await user.login(spec.login_page, fields, spec.login_submit)
        step = Scene(SETUP, 0).step(user.actor.id, "login")
        judged = await self._judge(user, None, step, status, path_route(user.path))
        return [_progress(user, step, status), *judged.events]

    async def _flow(self, scene: Scene, flow: str, user: BrowserUser) -> list[Event]:
        """Open the flow's page (if the user is not on it), click its control, judge the page
        it leaves the user on. A real call's flows happen in the call's own tab."""
        media = self.calls is not None and self.calls.is_media_flow(flow)
        async with user.in_call_tab() if media else contextlib.nullcontext():
            return await self._flow_here(scene, flow, user, media)

    async def _flow_here(
        self, scene: Scene, flow: str, user: BrowserUser, media: bool
    ) -> list[Event]:
        actor = user.actor.id
        resource = self._resource(actor, flow, scene.slot)
        control = self.spec.flows[flow]
        events: list[Event] = []
        path = render(control.page, self._scope(user.actor, resource)) if control.page else ""
        route = route_of("PAGE", control.page) if control.page else ""
        if path and user.location != path:
            opened = await self._read(user, scene, scene.step(actor, f"{flow}/open"), path, route)
            if opened is None:
                raise InfrastructureError(
                    f"flow {flow} as {actor}: {path} did not load in time",
                    "check that the target is not overloaded",
                )
            events += opened.events
        scene.steps.append(Step(actor, flow, str(scene.slot) if resource is not None else ""))
        step = scene.step(actor, flow)
        call = resource.key if resource is not None else ""
        if media and self.calls is not None:
            await self.calls.before(flow, user, call)
        # The call lives in its page: a media flow's page is updated in place, never reloaded.
        clicked = await user.click(control.click, control.reloads and not media)
        if not clicked.ok:
            raise InfrastructureError(
                f"flow {flow} as {actor}: {control.click} on {user.path} sent {clicked.method} "
                f"{clicked.path}, answered {clicked.status}: {clicked.detail}",
                "make sure the feature flag is on in staging and the profile's browser.flows "
                "match the app",
            )
        if media and self.calls is not None:
            await self.calls.after(flow, user, call)
        events.append(_progress(user, step, clicked.status))
        landed = route if path and user.location == path else path_route(user.path)
        judged = await self._judge(user, scene, step, clicked.landed, landed)
        return [*events, *judged.events]

    async def _look(self, scene: Scene, user: BrowserUser) -> list[Event]:
        """Read each of the role's pages, as a person checking their profile would."""
        actor = user.actor.id
        scene.steps.append(Step(actor, "look"))
        scene.lookers.add(actor)
        step = scene.step(actor, "look")
        scope = self._scope(user.actor)
        events: list[Event] = []
        seen: list[Observation] = []
        own = 0
        for template in self.spec.pages.get(user.actor.role, []):
            route = route_of("PAGE", template)
            judged = await self._read(user, scene, step, render(template, scope), route)
            if judged is None:
                events.append(_progress(user, step, 0))
                continue
            events += [_progress(user, step, judged.obs.status), *judged.events]
            seen.append(judged.obs)
            own += judged.own
            # Later pages belong to this look's step: no step of their own, so the progress
            # total announced up front stays exact.
            async for later in self._later_pages(user, scene, step, route):
                events += later.events
                seen.append(later.obs)
                own += later.own
        if self.calls is not None:
            api_seen, api_events = await self._stored_media(user, scene, step)
            seen += api_seen
            events += api_events
        self.own_rows[actor] = own
        if scene.witness is not None:
            scene.witness.look(actor, seen, f"{scene.name} step {len(scene.steps)}")
        return events

    async def _later_pages(
        self, user: BrowserUser, scene: Scene, step: str, route: str
    ) -> AsyncIterator[Judged]:
        """Follow the page's next-page link while there is one: a leak on page three is as
        visible to a person as one on page one."""
        selector = self.spec.next_page
        if selector is None:
            return
        visited = {user.page.url}
        for _ in range(self.spec.max_pages - 1):
            url = await user.next_page(selector)
            if url is None or url in visited:
                return
            visited.add(url)
            judged = await self._read(user, scene, step, url, route)
            if judged is None:
                return
            yield judged
        if await user.next_page(selector) is not None:
            # Pages past the limit were not read: say so rather than call them clean.
            observer = user.actor.id
            self.ctx.adapter.coverage.lost(route, observer, observer, "past max_pages")

    async def _stored_media(
        self, user: BrowserUser, scene: Scene, step: str
    ) -> tuple[list[Observation], list[Event]]:
        """With real calls, the user's reads through the API as well, as the switch suite's
        look does them: a page shows a recording's title, the media oracle judges the face and
        voice in every recording the user can fetch."""
        actor = user.actor
        if actor.id not in self.sessions:
            self.sessions[actor.id] = await self.ctx.adapter.login(actor)
        seen = await self.ctx.adapter.look(self.sessions[actor.id], step)
        events: list[Event] = []
        for obs in seen:
            note_stored_call(self.ctx, obs)
            found = _unique([replace(f, suite=SUITE) for f in self.ctx.judge(obs)])
            events += self._raise(scene, found)
        return seen, events

    # -- reading and judging what was rendered -----------------------------------------------

    async def _read(
        self, user: BrowserUser, scene: Scene, step: str, path: str, route: str
    ) -> Judged | None:
        """Open a page and judge it. A page that timed out is lost coverage (None); one the
        target did not answer is lost and ends the run."""
        observer = user.actor.id
        coverage = self.ctx.adapter.coverage
        try:
            status = await user.goto(path)
        except PlaywrightTimeout:
            coverage.lost(route, observer, observer, "timeout")
            return None
        except (PlaywrightError, TargetUnreachable) as exc:
            error = translate(exc, self.ctx.target, step)
            gone = isinstance(error, TargetUnreachable)
            coverage.lost(route, observer, observer, "no answer" if gone else "browser error")
            raise error from None
        return await self._judge(user, scene, step, status, route)

    async def _judge(
        self, user: BrowserUser, scene: Scene | None, step: str, status: int, route: str
    ) -> Judged:
        """Judge the page as rendered now; a new finding gets a screenshot and the trace."""
        observer, world, spec = user.actor.id, self.ctx.world, self.spec
        self._count(user, route, status)
        rendered = await observe(
            user.page, observer, step, route, status, spec.row, spec.row_owner_attr
        )
        obs, owners = rendered.obs, rendered.owners
        self.pages += 1
        own = own_rows(world, observer, owners, spec.row_owner_var)
        found = _unique(
            [
                replace(f, suite=SUITE)  # before the keys are taken: the key names the suite
                for f in (
                    *self.ctx.judge(obs),
                    *foreign_rows(world, obs, owners, spec.row_owner_var),
                )
            ]
        )
        if not found:
            return Judged(obs, [], own)
        if any(f.key not in self.shots for f in found):
            shot = await self.evidence.screenshot(user, world, spec, step)
            extra = (("screenshot", str(shot)), ("trace", str(self.evidence.trace_path(observer))))
            for finding in found:
                self.shots.setdefault(finding.key, extra)
        return Judged(obs, self._raise(scene, found), own)

    def _raise(self, scene: Scene | None, found: list[Finding]) -> list[Event]:
        """Each finding as an event, with the scenario's steps so far and its evidence."""
        keys = [f.key for f in found]
        for finding in found:
            self.found.setdefault(finding.key, finding)
        repro: tuple[Step, ...] = ()
        if scene is not None:
            scene.keys += keys
            repro = tuple(scene.steps)
        return [
            FindingRaised(
                SUITE, replace(f, repro=repro, extra=(*f.extra, *self.shots.get(f.key, ())))
            )
            for f in found
        ]

    def _count(self, user: BrowserUser, route: str, status: int) -> None:
        """Coverage: a page read proves something only if it rendered the reader's page."""
        observer, coverage = user.actor.id, self.ctx.adapter.coverage
        login = urlsplit(self.spec.login_page).path
        if user.path == login and route != path_route(login):
            coverage.lost(route, observer, observer, "sent to the login page")
        elif status >= 500:
            coverage.lost(route, observer, observer, f"HTTP {status}")
        else:
            coverage.checked(route, observer, observer)

    # -- wrapping up -------------------------------------------------------------------------

    async def _close_users(self, keep_all: bool) -> None:
        while self.users:
            user = self.users.pop()
            self.traffic += user.traffic
            self.blocked += user.blocked
            await self.evidence.close(user, keep_all)

    def _traffic(self) -> None:
        """The GETs the pages made join the reads (source `browser`): the routes the profile
        and the document do not name are read by later looks, repeated as the others, and
        listed in the report."""
        routes = traffic_routes(self.traffic, self.ctx.target)
        on_target = [u for u in self.traffic if u.startswith(self.ctx.target.rstrip("/") + "/")]
        self.ctx.adapter.coverage.read_from("browser", len(on_target))
        discovery = self.ctx.capability(DISCOVERY)
        if discovery is not None:
            discovery.add_routes(routes, "browser")

    def _finished(self, seconds: float) -> SuiteFinished:
        ran = [e.scenario.name for e in self.plan if not e.skipped]
        found = len(self.found)
        if self.ctx.cancel.is_set():
            verdict, message = Verdict.ERROR, "interrupted before every phase ran"
        elif found:
            verdict, message = Verdict.FAIL, f"{found} finding(s) in pages rendered for users"
        elif not ran:
            verdict, message = Verdict.ERROR, "no scenario applied, so nothing was checked"
        else:
            verdict = Verdict.PASS
            message = (
                f"{self.pages} rendered pages in {len(ran)} scenario(s) showed no one else's data"
            )
        return SuiteFinished(
            suite=SUITE,
            verdict=verdict,
            seconds=seconds,
            time=time.time(),
            message=message,
            metrics={
                "users": len(self.cast.owners),
                "observers": len(self.cast.observers),
                "pages_judged": self.pages,
                "own_rows": dict(self.own_rows),
                "scenarios": ran,
                "not_applicable": _skipped(self.plan, "not applicable"),
                "not_run": _skipped(self.plan, "not run"),
                # Requests the pages made outside the target's origin: blocked, never sent.
                "blocked_requests": sum(self.blocked.values()),
                "blocked_hosts": dict(self.blocked.most_common(20)),
                **(self.calls.metrics() if self.calls is not None else {}),
            },
            artifacts=tuple(self.evidence.files),
        )


def path_route(path: str) -> str:
    """`PAGE /consultations/{id}` for `/consultations/12`: one surface per page template."""
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return "PAGE " + "/".join(parts)


def _skipped(plan: list[Entry], why: str) -> list[str]:
    return [e.scenario.name for e in plan if e.skipped.startswith(why)]


def _progress(user: BrowserUser, step: str, status: int) -> StepFinished:
    return StepFinished(SUITE, step, user.actor.id, status, time.time())


def _unique(findings: list[Finding]) -> list[Finding]:
    by_key: dict[str, Finding] = {}
    for finding in findings:
        by_key.setdefault(finding.key, finding)
    return list(by_key.values())
