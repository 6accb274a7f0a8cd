"""The browser flow, in phases: every user logs in, joins, switches, ends, then reads /profile.

Each phase drives every user at once (one browser context each, asyncio.gather) and waits for all
of them before the next, so every patient is in a call when the switches happen: the 2020 fault
needed overlapping calls, and a staggered run passes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, replace

from playwright.async_api import Browser, async_playwright

from harness.errors import ChaperoneError, InfrastructureError
from harness.events import CaseFinished, Event, FindingRaised, StepFinished, SuiteFinished
from harness.models import Actor, Finding, Step, Verdict
from harness.suites import RunContext
from scenarios.browser.dom import observe, recording_owner_ids
from scenarios.browser.errors import translate
from scenarios.browser.evidence import Evidence
from scenarios.browser.launch import launch_chromium
from scenarios.browser.listing import foreign_recordings
from scenarios.browser.user import BrowserUser

SUITE = "browser"
ACTION_TIMEOUT_MS = 20_000
PATIENT_STEPS = ("login", "open", "join", "switch", "end", "profile")
CLINICIAN_STEPS = ("login", "clinician")

UserWork = Callable[[BrowserUser], Awaitable[list[Event]]]


@dataclass(frozen=True, slots=True)
class Cast:
    patients: tuple[Actor, ...]
    clinicians: tuple[Actor, ...]
    calls: dict[str, int]  # patient -> the consultation they drive

    @classmethod
    def pick(cls, ctx: RunContext) -> Cast:
        world = ctx.world
        chosen = [p for p in world.patients if world.appointments_of(p.id)]
        patients = tuple(chosen[: ctx.options.browser_users])
        if len(patients) < 2:
            raise InfrastructureError(
                "the browser suite needs at least two seeded patients with appointments",
                "seed more patients (--patients) or check the target's seed API",
            )
        ids = {p.id for p in patients}
        clinicians = tuple(c for c in world.clinicians if c.assigned & ids)
        calls = {p.id: world.appointments_of(p.id)[0].consultation_id for p in patients}
        return cls(patients, clinicians, calls)

    @property
    def total_steps(self) -> int:
        return len(self.patients) * len(PATIENT_STEPS) + len(self.clinicians) * len(CLINICIAN_STEPS)


class BrowserRun:
    def __init__(self, ctx: RunContext, cast: Cast) -> None:
        self.ctx = ctx
        self.cast = cast
        self.evidence = Evidence(ctx.out_dir / SUITE)
        self.script: list[Step] = []  # every action so far, in phase order, for reproductions
        self.keys: dict[str, list[str]] = {}  # observer -> keys of the findings they raised
        self.pages = 0
        self.recordings: dict[str, int] = {}
        self.users: list[BrowserUser] = []

    async def events(self) -> AsyncGenerator[Event, None]:
        started = time.monotonic()
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright, self.ctx.options.chromium)
            failed = True
            try:
                await self._start(browser)
                for name, users, work in self._phases():
                    if self.ctx.cancel.is_set():
                        break
                    events, error = await self._run_phase(name, users, work)
                    for event in events:
                        yield event
                    if error is not None:
                        raise error
                failed = self.ctx.cancel.is_set()
                await self._close_users(keep_all=False)
                for event in self._cases(time.monotonic() - started):
                    yield event
                yield self._finished(time.monotonic() - started)
            finally:
                await self._close_users(keep_all=failed)
                await browser.close()

    # -- phases ------------------------------------------------------------------------------

    async def _start(self, browser: Browser) -> None:
        for actor in (*self.cast.patients, *self.cast.clinicians):
            user = await BrowserUser.start(browser, actor, self.ctx.target, ACTION_TIMEOUT_MS)
            self.users.append(user)

    def _phases(self) -> list[tuple[str, list[BrowserUser], UserWork]]:
        patients = [u for u in self.users if u.actor.id in self.cast.calls]
        clinicians = [u for u in self.users if u.actor.id not in self.cast.calls]
        return [
            ("login", self.users, self._login),
            ("open", patients, self._open_call),
            ("join", patients, self._action("join", "Join")),
            ("switch", patients, self._action("switch", "Switch to video")),
            ("end", patients, self._action("end", "End call")),
            ("profile", patients, self._profile),
            ("clinician", clinicians, self._clinician_page),
        ]

    async def _run_phase(
        self, name: str, users: list[BrowserUser], work: UserWork
    ) -> tuple[list[Event], ChaperoneError | None]:
        """Run one phase for every user at once. Events of users that succeeded still count."""
        results = await asyncio.gather(*(work(u) for u in users), return_exceptions=True)
        events: list[Event] = []
        error: ChaperoneError | None = None
        for user, result in zip(users, results, strict=True):
            if isinstance(result, BaseException):
                error = error or translate(result, self.ctx.target, _step(user, name))
            else:
                events += result
        return events, error

    async def _login(self, user: BrowserUser) -> list[Event]:
        status = await user.login()
        return [_progress(user, "login", status), *await self._look(user, "login", status)]

    async def _open_call(self, user: BrowserUser) -> list[Event]:
        status = await user.goto(f"/consultations/{self.cast.calls[user.actor.id]}")
        return [_progress(user, "open", status), *await self._look(user, "open", status)]

    def _action(self, action: str, label: str) -> UserWork:
        arg = "video" if action == "switch" else ""

        async def run(user: BrowserUser) -> list[Event]:
            call = self.cast.calls[user.actor.id]
            self.script.append(Step(user.actor.id, action, arg or str(call)))
            status = await user.press(user.button(label))
            return [_progress(user, action, status), *await self._look(user, action, status)]

        return run

    async def _profile(self, user: BrowserUser) -> list[Event]:
        status = await user.goto("/profile")
        if await user.page.locator("section#recordings").count() == 0:
            raise InfrastructureError(
                f'/profile for {user.actor.id} has no <section id="recordings">',
                "the browser suite reads the Recordings subsection described in clinic/API.md",
            )
        read = Step(user.actor.id, "profile")
        return [
            _progress(user, "profile", status),
            *await self._look(user, "profile", status, read),
        ]

    async def _clinician_page(self, user: BrowserUser) -> list[Event]:
        status = await user.goto("/clinician")
        read = Step(user.actor.id, "recordings")
        events = await self._look(user, "clinician", status, read)
        return [_progress(user, "clinician", status), *events]

    # -- judging what was rendered -----------------------------------------------------------

    async def _look(
        self, user: BrowserUser, name: str, status: int, read: Step | None = None
    ) -> list[Event]:
        """Judge the page as rendered now; a new finding gets a screenshot and the trace."""
        step = _step(user, name)
        obs = await observe(user.page, user.actor.id, step, _endpoint(user.path), status)
        owner_ids = await recording_owner_ids(user.page)
        self.pages += 1
        if name in ("profile", "clinician"):
            self.recordings[user.actor.id] = len(owner_ids)
        found = [
            replace(f, suite=SUITE)  # before the keys are taken: the key names the suite
            for f in (*self.ctx.judge(obs), *foreign_recordings(self.ctx.world, obs, owner_ids))
        ]
        seen = {k for keys in self.keys.values() for k in keys}
        fresh = _unique([f for f in found if f.key not in seen])
        if not fresh:
            return []
        shot = await self.evidence.screenshot(user, self.ctx.world, step)
        extra = (("screenshot", str(shot)), ("trace", str(self.evidence.trace_path(user.actor.id))))
        repro = (*self.script, *((read,) if read else ()))
        self.keys.setdefault(user.actor.id, []).extend(f.key for f in fresh)
        return [
            FindingRaised(SUITE, replace(f, suite=SUITE, repro=repro, extra=(*f.extra, *extra)))
            for f in fresh
        ]

    # -- wrapping up -------------------------------------------------------------------------

    async def _close_users(self, keep_all: bool) -> None:
        while self.users:
            await self.evidence.close(self.users.pop(), keep_all)

    def _cases(self, seconds: float) -> list[Event]:
        actors = (*self.cast.patients, *self.cast.clinicians)
        return [
            CaseFinished(
                suite=SUITE,
                name=f"{SUITE}/{a.id}",
                verdict=Verdict.FAIL if self.keys.get(a.id) else Verdict.PASS,
                seconds=seconds,
                message=f"{len(self.keys.get(a.id, ()))} finding(s) on pages {a.id} saw",
                finding_keys=tuple(self.keys.get(a.id, ())),
            )
            for a in actors
        ]

    def _finished(self, seconds: float) -> SuiteFinished:
        found = sum(len(k) for k in self.keys.values())
        if self.ctx.cancel.is_set():
            verdict, message = Verdict.ERROR, "interrupted before every phase ran"
        elif found:
            verdict, message = Verdict.FAIL, f"{found} finding(s) in pages rendered for users"
        else:
            verdict, message = Verdict.PASS, f"{self.pages} rendered pages showed no foreign data"
        return SuiteFinished(
            suite=SUITE,
            verdict=verdict,
            seconds=seconds,
            time=time.time(),
            message=message,
            metrics={
                "users": len(self.cast.patients),
                "clinicians": len(self.cast.clinicians),
                "pages_judged": self.pages,
                "recordings_seen": dict(self.recordings),
            },
            artifacts=tuple(self.evidence.files),
        )


def _step(user: BrowserUser, name: str) -> str:
    return f"{SUITE}/{user.actor.id}/{name}"


def _progress(user: BrowserUser, name: str, status: int) -> StepFinished:
    return StepFinished(SUITE, _step(user, name), user.actor.id, status, time.time())


def _endpoint(path: str) -> str:
    """`PAGE /consultations/{id}` for `/consultations/12`: one surface per page template."""
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return "PAGE " + "/".join(parts)


def _unique(findings: list[Finding]) -> list[Finding]:
    by_key: dict[str, Finding] = {}
    for finding in findings:
        by_key.setdefault(finding.key, finding)
    return list(by_key.values())
