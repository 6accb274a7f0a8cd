"""The runtime every scenario shares: logged-in actors, phases, and the recorder that has every
observation judged and turned into events.

A scenario is plain data: phases, each a flow name from the target profile, `look` or
`pause:SECONDS`, applied to every owner at the same moment (the incident needed two users and a
mid-call state change). A flow acts on the owner's n-th resource of the flow's `resource` kind,
n being the scenario's slot, so each scenario uses fresh calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from harness.adapters import Session
from harness.adapters.capabilities import CALLS, MEDIA, NOTIFY, PUSH
from harness.errors import InfrastructureError
from harness.events import Event, FindingRaised, StepFinished
from harness.models import Finding, Observation, Step
from harness.push import PushListener
from harness.sinks import observations_of
from harness.suites import RunContext
from harness.world import Resource
from scenarios.controls import Witness
from scenarios.media_calls import MediaCalls, note_stored_call

REJOIN = "rejoin"  # a phase that runs the profile's `rejoin` flow, or `join` again


class Recorder:
    """Judges observations, keeps the journal, and queues events for the suite to yield."""

    def __init__(
        self, suite: str, ctx: RunContext, events: asyncio.Queue[Event] | None = None
    ) -> None:
        self.suite = suite
        self.ctx = ctx
        # Scenarios that play at once share one queue, so one drain yields all their events.
        self.events: asyncio.Queue[Event] = events if events is not None else asyncio.Queue()
        self.findings: list[Finding] = []
        self.witness = Witness(ctx.world)
        self.notified = 0  # notifications that reached the sinks during this recorder's run
        # A body past the driver's cap is judged chunk by chunk, as it streams, never kept
        # whole: the parts of a 200 MB response come here like Range parts of media.
        media = ctx.capability(MEDIA)
        if media is not None:
            media.set_overflow(self._overflow)

    def observe(self, obs: Observation, repro: tuple[Step, ...] = ()) -> list[Finding]:
        self.ctx.journal.append(obs)
        found = [replace(f, suite=self.suite, repro=repro) for f in self.ctx.judge(obs)]
        self.events.put_nowait(StepFinished(self.suite, obs.step, obs.actor, obs.status, obs.time))
        for finding in found:
            self.findings.append(finding)
            self.events.put_nowait(FindingRaised(self.suite, finding))
        return found

    def _overflow(self, part: Observation) -> None:
        self.observe(part)

    def emit(self, event: Event) -> None:
        self.events.put_nowait(event)


async def drain(work: Coroutine[Any, Any, None], recorder: Recorder) -> AsyncIterator[Event]:
    """Run `work` and yield the recorder's events as they arrive, then any left over.

    What is queued is yielded at once; only an empty queue waits, for the next event or the
    end of the work, whichever comes first. (Waiting on each event with a 0.1 s timeout made
    a task and a timer per event, tens of thousands a gate, and every scenario ended up to
    0.1 s after its work did.)"""
    events = recorder.events
    task = asyncio.ensure_future(work)
    try:
        while True:
            while not events.empty():
                yield events.get_nowait()
            if task.done():
                break
            getter = asyncio.ensure_future(events.get())
            try:
                await asyncio.wait((getter, task), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                yield getter.result()
        task.result()
    finally:
        task.cancel()


def flow_name(has_flow: Callable[[str], bool], phase: str) -> str:
    """The profile flow a phase runs (`rejoin` falls back to `join`)."""
    if phase == REJOIN and not has_flow(REJOIN):
        return "join"
    return phase


def missing_flows(has_flow: Callable[[str], bool], phases: tuple[str, ...]) -> list[str]:
    """Flows these phases need that the profile lacks (the scenario is then not applicable)."""
    needed = {flow_name(has_flow, p) for p in phases if p != "look" and not p.startswith("pause")}
    return sorted(f for f in needed if not has_flow(f))


@dataclass
class Stage:
    """What the scenarios playing at once share (one scenario alone has a stage of its own).

    One login per user: two logins of one user at once may end each other's session on some
    apps. One push channel per watcher, judged by whichever scenario collects it first. And one
    list of steps, in the order the target finished them: a finding two scenarios made
    together replays only from both of their steps."""

    sessions: dict[str, asyncio.Future[Session]] = field(default_factory=dict)
    listeners: dict[str, PushListener] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    async def session(
        self, actor: str, login: Callable[[], Coroutine[Any, Any, Session]]
    ) -> Session:
        made = self.sessions.get(actor)
        if made is None:
            made = self.sessions[actor] = asyncio.ensure_future(login())
        return await made

    async def open_push(self, ctx: RunContext, watchers: list[str]) -> None:
        """One push channel per watcher for the stage's length (if the app has any).

        The watchers log in and connect at once: one after another, this was a fixed pause of
        a login and a WebSocket handshake per watcher before every scenario."""
        push = ctx.capability(PUSH)
        if push is None:
            return

        async def listen(actor: str) -> PushListener | None:
            user = ctx.world.actors[actor]
            return await push.listen(await self.session(actor, lambda: ctx.adapter.login(user)))

        got = await asyncio.gather(*(listen(a) for a in watchers), return_exceptions=True)
        for actor, listener in zip(watchers, got, strict=True):
            if isinstance(listener, PushListener):
                self.listeners[actor] = listener  # kept, so close_push stops it on any outcome
        failed = [e for e in got if isinstance(e, BaseException)]
        if failed:
            raise failed[0]

    async def close_push(self) -> None:
        # Each stop waits for its socket's closing handshake: all at once, not in turn.
        await asyncio.gather(*(listener.stop() for listener in self.listeners.values()))
        self.listeners.clear()


@dataclass
class Play:
    """One scenario in progress: which slot it uses, who looked, what happened."""

    ctx: RunContext
    recorder: Recorder
    name: str
    slot: int  # index into each owner's resources of a flow's kind
    stage: Stage = field(default_factory=Stage)
    lookers: set[str] = field(default_factory=set)
    # Owners who sit this scenario out, and the users who look (None: everyone; never the
    # anonymous user). See `scenarios.cast`. Users who own nothing (an admin's flow) are never
    # sat out.
    resting: frozenset[str] = frozenset()
    audience: tuple[str, ...] | None = None
    media: MediaCalls | None = None  # real calls (`--media real`), else None

    async def open_media(self) -> None:
        """With `--media real` and a target whose calls are real, callers follow the flows."""
        calls = self.ctx.capability(CALLS)
        plan = calls.media_plan() if calls is not None else None
        if self.ctx.options.media == "real" and calls is not None and plan is not None:
            self.media = MediaCalls(calls, plan, self.ctx.world.calls)

    async def close_media(self) -> None:
        if self.media is not None:
            await self.media.stop()

    def actors_for(self, flow: str) -> list[str]:
        """Whose `flow` it is: the owners of its resource (or entity) kind, or users of its
        roles, but not the owners resting this scenario. (A `by` flow is still the owner's: a
        related observer performs it.)"""
        return [a for a in self._actors_for(flow) if a not in self.resting]

    def _actors_for(self, flow: str) -> list[str]:
        spec = self.ctx.adapter.profile.flows[flow]
        world = self.ctx.world
        if spec.entity is not None:
            return [o.id for o in world.owners() if o.id in {r.owner for r in world.resources}]
        if spec.resource is not None:
            owners = {r.owner for r in world.resources if r.kind == spec.resource}
            roles = set(spec.as_)
            return [
                a.id
                for a in world.actors.values()
                if a.id in owners and (not roles or a.role in roles)
            ]
        roles = set(spec.as_) or set(self.ctx.adapter.profile.owner_roles())
        return [a.id for a in world.actors.values() if a.role in roles]

    def resource(self, actor: str, flow: str) -> Resource | None:
        kind = self.ctx.adapter.profile.flows[flow].resource
        if kind is None:
            return None
        mine = self.ctx.world.resources_of(actor, kind)
        return mine[self.slot % len(mine)] if mine else None

    def everyone(self) -> list[str]:
        return [a.id for a in self.ctx.world.actors.values() if not a.is_anonymous]

    def watchers(self) -> list[str]:
        """Who looks (and listens for pushes) during this scenario."""
        return self.everyone() if self.audience is None else list(self.audience)

    @property
    def steps(self) -> list[Step]:
        return self.stage.steps

    async def session(self, actor: str) -> Session:
        return await self.stage.session(
            actor, lambda: self.ctx.adapter.login(self.ctx.world.actors[actor])
        )

    def step_name(self, actor: str, action: str) -> str:
        return f"{self.recorder.suite}/{self.name}/{actor}/{action}"

    async def run_phase(self, phase: str) -> None:
        if phase.startswith("pause"):
            await asyncio.sleep(float(phase.partition(":")[2] or 0.05))
            return
        if phase == "look":
            await asyncio.gather(*(look(self, actor) for actor in self.watchers()))
            await self.collect(notifications=True)
            return
        flow = flow_name(self.ctx.adapter.has_flow, phase)
        await asyncio.gather(*(run_flow(self, actor, flow) for actor in self.actors_for(flow)))
        await self.collect(notifications=False)

    async def open_push(self) -> None:
        """Push channels for this scenario's watchers, on its own stage."""
        await self.stage.open_push(self.ctx, self.watchers())

    async def close_push(self) -> None:
        await self.collect(notifications=True)
        await self.stage.close_push()

    async def collect(self, notifications: bool) -> None:
        """Judge what was pushed to users, and (after a look) the notifications sent."""
        repro = tuple(self.steps)
        for actor, listener in self.stage.listeners.items():
            for obs in listener.drain(self.step_name(actor, "push")):
                self.recorder.observe(obs, repro)
        sinks, notify = self.ctx.sinks, self.ctx.capability(NOTIFY)
        if not notifications or sinks is None or notify is None:
            return
        await notify.flush_notifications()
        book = notify.recipients()
        for obs in observations_of(sinks.drain(), book, f"{self.recorder.suite}/{self.name}"):
            self.recorder.notified += 1
            self.recorder.observe(obs, repro)


async def run_flow(play: Play, owner: str, flow: str) -> None:
    """Run `flow` for `owner`: as the owner, or as the observer related to them (`by`)."""
    performer = play.ctx.adapter.performer(flow, owner)
    if performer is None:
        return  # nobody is related to this owner any more: there is nobody to perform it
    session = await play.session(performer)
    resource = play.resource(owner, flow)
    step = Step(performer, flow, str(play.slot) if resource is not None else owner)
    name = play.step_name(performer, flow)
    if play.media is not None:
        await play.media.before(flow, session, resource)
    result = await play.ctx.adapter.flow(session, flow, resource, name, owner=owner)
    if play.media is not None and result.ok:
        await play.media.after(flow, session, resource)
    # Recorded as it completes, not as it starts: a phase's flows run at once, and the order
    # the target finished them in is the order a sequential replay must follow (the 2020 bug
    # filed a recording under the patient of whichever call was joined last).
    play.steps.append(step)
    for obs in result.observations:
        play.recorder.observe(obs, tuple(play.steps))
    if not result.ok:
        # The flow itself could not be driven: nothing was proven, so this is not a pass.
        obs = result.last
        raise InfrastructureError(
            f"flow {flow} as {performer}: {obs.method} {obs.url.split('?', 1)[0]} answered "
            f"{obs.status}: {_detail(obs)}",
            "make sure the feature flag is on in staging and the profile's flows match the app",
        )


async def look(play: Play, actor: str) -> None:
    """Read everything the actor can reach and have every byte judged."""
    session = await play.session(actor)
    play.steps.append(Step(actor, "look"))
    play.lookers.add(actor)
    repro = tuple(play.steps)
    seen = await play.ctx.adapter.look(session, play.step_name(actor, "look"))
    for obs in seen:
        note_stored_call(play.ctx, obs)
        play.recorder.observe(obs, repro)
    play.recorder.witness.look(actor, seen, f"{play.name} step {len(play.steps)}")


def _detail(obs: Observation) -> str:
    text = obs.body[:200].decode("utf-8", "replace")
    return text.replace("\n", " ")
