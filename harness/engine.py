"""The engine: seeds the target, runs the requested suites in order, yields events. Never prints.

Fail closed: any error, timeout, interruption or unreachable target becomes an EngineError /
Interrupted event and the final verdict is `error`, never `pass`. Findings gathered before the
failure are kept, because they were already yielded.

Cancellation (harness.cancel): the run has one scope and each suite a child of it. A suite's
deadline cancels its own scope (`Cancelled(timeout)`); a Ctrl-C that lands in the engine
becomes `Cancelled(interrupt)` and cancels the run's scope, so every suite, also one running
in a thread, stops; a suite that lost the target cancels the run (`Cancelled(lost target)`):
nothing after it could be judged.
"""

from __future__ import annotations

import contextvars
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from harness.adapters import DEFAULT_ADAPTER, Target, make_target
from harness.adapters.capabilities import DISCOVERY, NOTIFY, RECOVERIES
from harness.aio import LoopThread
from harness.cancel import Cancelled, CancelReason, CancelScope, interrupts
from harness.client.har import har_routes, read_har
from harness.config import RunOptions, load_flow_share
from harness.errors import ChaperoneError, TargetUnreachable, UsageError
from harness.events import (
    CoverageReported,
    EngineError,
    Event,
    FindingRaised,
    Interrupted,
    RunFinished,
    RunStarted,
    SuiteFinished,
    WorldSeeded,
)
from harness.models import Verdict
from harness.oracles import Judge
from harness.population import counts_for, make_population, owner_count
from harness.profile import LoadedProfile, load_profile
from harness.sinks import Sinks
from harness.suites import RunContext, load_suite
from harness.world import World

# Scenario suites worth repeating with more seeds; load and browser run once per gate.
REPEATED_SUITES = ("switch", "access")
# Pairs of suites that may run at once on one fresh seeding (RunOptions.overlap). Load's users
# pace themselves (about one core for a fixed window) while the browser suite is bound by
# Chromium, so side by side they take little more than the longer one. The first pair member
# claims the users whose data it drives (RunContext.claim) before the second starts; the second
# leaves those users' resources alone (RunContext.reserved).
TOGETHER = (("browser", "load"),)


@dataclass
class RunRequest:
    target: str
    options: RunOptions
    out_dir: Path
    support_token: str = ""
    profile: LoadedProfile = field(default_factory=lambda: load_profile("clinic"))
    adapter: str = DEFAULT_ADAPTER
    build: str = ""
    transport: httpx.AsyncBaseTransport | None = None  # in-process target, for tests
    sinks: Sinks | None = None  # where notifications arrive (started by the caller)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    har: tuple[Path, ...] = ()  # recorded browser sessions whose GETs are read too


def run(request: RunRequest) -> Generator[Event, None, None]:
    started = time.time()
    options = request.options
    yield RunStarted(
        run_id=request.run_id,
        target=request.target,
        seed=options.seed,
        suites=planned_suites(options),
        time=started,
        build=request.build,
        profile=request.profile.profile.name,
        min_coverage=options.min_coverage,
    )
    verdicts: list[Verdict] = []
    loop = LoopThread()
    adapter: Target | None = None
    scope = CancelScope()
    try:
        with interrupts(scope):
            adapter = make_target(
                request.profile.profile,
                request.target,
                request.support_token,
                request.transport,
                request.adapter,
                str(request.profile.directory),
            )
            _add_har(adapter, request)
            ctx = _context(request, adapter, loop, scope)
            yield _seeded(ctx, request)
            verdicts += yield from _steps(ctx, request)
    except Cancelled as exc:
        verdicts.append(Verdict.ERROR)
        if exc.reason is CancelReason.INTERRUPT:
            yield Interrupted(time=time.time())
        else:
            yield EngineError(suite="", message=exc.one_line(), time=time.time())
    except ChaperoneError as exc:
        verdicts.append(Verdict.ERROR)
        yield EngineError(suite="", message=exc.one_line(), time=time.time())
    except GeneratorExit:
        # The caller stopped reading (its own Ctrl-C): threads still at work must stop too.
        scope.cancel(CancelReason.INTERRUPT)
        raise
    except Exception as exc:  # fail closed on our own bugs too
        verdicts.append(Verdict.ERROR)
        message = f"internal error: {type(exc).__name__}: {exc}"
        yield EngineError(suite="", message=message, time=time.time())
    finally:
        loop.cancel_all()
        if adapter is not None:
            _close(loop, adapter)
        loop.close()
    yield RunFinished(
        verdict=Verdict.merge(*verdicts), seconds=time.time() - started, time=time.time()
    )


def _add_har(adapter: Target, request: RunRequest) -> None:
    """The GETs of recorded sessions join the reads, before the target is checked (so the
    crawl knows them as named)."""
    if not request.har:
        return
    discovery = DISCOVERY.of(adapter)
    if discovery is None:
        raise UsageError(
            f"the adapter '{request.adapter}' cannot read routes from a HAR",
            "drop --har, or use the profile adapter",
        )
    for path in request.har:
        # The session's own origin, not --target's: a session recorded on another host
        # (a developer's machine, another staging) names the same routes.
        discovery.add_routes(har_routes(read_har(path)), "har")


def _steps(ctx: RunContext, request: RunRequest) -> Generator[Event, None, list[Verdict]]:
    """Every scheduled step, then the repeated suites under each extra seed. A run whose scope
    was cancelled (a lost target) stops before its next step."""
    options = request.options
    verdicts: list[Verdict] = []
    owners = owner_count(ctx.adapter.profile, counts_for(ctx.adapter.profile, options.population))
    for names in schedule(options, owners):
        ctx.cancel.raise_if_cancelled()
        if ctx.seeding.stale:
            ctx.reseed()
            yield _seeded(ctx, request)
        if len(names) == 1:
            verdicts.append((yield from _run_suite(names[0], ctx)))
        else:
            verdicts += yield from _run_together(names, ctx)
    for seed in options.extra_seeds:
        ctx.cancel.raise_if_cancelled()
        ctx.options = options.model_copy(update={"seed": seed})
        ctx.reseed()
        yield _seeded(ctx, request)
        for name in (s for s in options.suites if s in REPEATED_SUITES):
            ctx.cancel.raise_if_cancelled()
            verdicts.append((yield from _run_suite(name, ctx, label=f"{name}@seed={seed}")))
    return verdicts


def _seeded(ctx: RunContext, request: RunRequest) -> WorldSeeded:
    roles = tuple((a.id, a.role) for a in ctx.world.actors.values())
    return WorldSeeded(ctx.world.seed, roles, request.profile.digest, time.time())


def _close(loop: LoopThread, adapter: Target) -> None:
    try:
        loop.run(adapter.aclose(), timeout=10)
    except Exception:  # closing must not mask the run's own outcome
        return


def _context(
    request: RunRequest, adapter: Target, loop: LoopThread, scope: CancelScope
) -> RunContext:
    options = request.options
    request.out_dir.mkdir(parents=True, exist_ok=True)
    loop.run(adapter.check(), timeout=60)
    # Nothing of this run can be queued yet: whatever the sinks hold came before it.
    _close_notifications(loop, adapter, request.sinks, flush=False)
    world = _seed(loop, adapter, options)
    ctx = RunContext(
        target=request.target,
        world=world,
        options=options,
        out_dir=request.out_dir,
        judge=Judge.from_world(world, listing=adapter.listing, coverage=adapter.coverage),
        adapter=adapter,
        loop=loop,
        support_token=request.support_token,
        cancel=scope,
        sinks=request.sinks,
    )
    ctx.reseed = _reseeder(ctx, request)
    _save_run_files(ctx, options)
    return ctx


def _seed(loop: LoopThread, adapter: Target, options: RunOptions) -> World:
    counts = counts_for(adapter.profile, options.population)
    population = make_population(adapter.profile, options.seed, counts)
    world: World = loop.run(adapter.seed(population), timeout=300)
    return world


def _reseeder(ctx: RunContext, request: RunRequest) -> Callable[[], World]:
    def reseed() -> World:
        seeding = ctx.seeding
        if seeding.pristine and not seeding.stale and ctx.world.seed == ctx.options.seed:
            return ctx.world  # nothing ran on this seeding: it is as fresh as a new one
        _close_notifications(ctx.loop, ctx.adapter, ctx.sinks)
        ctx.world = _seed(ctx.loop, ctx.adapter, ctx.options)
        ctx.judge = Judge.from_world(
            ctx.world, listing=ctx.adapter.listing, coverage=ctx.adapter.coverage
        )
        ctx.journal.clear()
        _save_run_files(ctx, request.options)
        seeding.pristine, seeding.stale = True, False
        return ctx.world

    return reseed


def _close_notifications(
    loop: LoopThread, adapter: Target, sinks: Sinks | None, *, flush: bool = True
) -> int:
    """Forget the notifications sent before a new world is seeded; returns how many.

    A notification can only be judged against the world it was sent in: who owns a canary
    and whose address is whose hold for one seeding. Another world of the same seed shares
    canary text in other places: stateful's small world plants in an appointment reason the
    token that the run's world puts in another patient's name, so a "recording ready" mail
    stateful left in the sinks, judged by the next suite to collect notifications, read as
    that patient's name mailed to someone else (a clean clinic failed its gate on it). The
    target first sends what it still holds (`flush`), so nothing of the old world arrives
    after the cut. Suites collect what their own flows caused while their world stands."""
    if sinks is None:
        return 0
    notify = NOTIFY.of(adapter)
    if flush and notify is not None:
        loop.run(notify.flush_notifications(), timeout=60)
    return len(sinks.drain())


def _save_run_files(ctx: RunContext, options: RunOptions) -> None:
    """world.json (the current world, for Locust workers) and options.json (the run as asked,
    with its first seed) let `chaperone replay` and subprocesses rebuild the run."""
    ctx.world.save(ctx.out_dir / "world.json")
    (ctx.out_dir / "options.json").write_text(
        json.dumps(options.model_dump(mode="json"), indent=1), encoding="utf-8"
    )


def schedule(options: RunOptions, owners: int) -> list[tuple[str, ...]]:
    """The suites in the order asked, a TOGETHER pair as one step (where the first of the two
    was asked) when overlap is on and there are `owners` (users who own data) enough for the
    browser's owners and the load's journeys to be different people."""
    share = max(2, load_flow_share(options.load_users))
    room = owners - options.browser_users >= share
    steps: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for name in options.suites:
        if name in placed:
            continue
        pair = next((p for p in TOGETHER if name in p and set(p) <= set(options.suites)), None)
        if pair is not None and options.overlap and room:
            steps.append(pair)
            placed |= set(pair)
        else:
            steps.append((name,))
            placed.add(name)
    return steps


def planned_suites(options: RunOptions) -> tuple[str, ...]:
    """Every suite label the run will report, so a missing one is caught as an error."""
    repeated = [s for s in options.suites if s in REPEATED_SUITES]
    return options.suites + tuple(f"{s}@seed={x}" for x in options.extra_seeds for s in repeated)


def _relabel(event: Event, label: str) -> Event:
    if isinstance(event, FindingRaised):
        return replace(event, suite=label, finding=replace(event.finding, suite=label))
    if hasattr(event, "suite"):
        return replace(event, suite=label)  # type: ignore[arg-type]
    return event


def _run_suite(
    name: str, ctx: RunContext, label: str | None = None
) -> Generator[Event, None, Verdict]:
    """Run one suite in a child of the run's cancel scope; returns its verdict. A suite that
    raises, overruns or loses the target is an error; an interrupted one raises Cancelled."""
    label = label or name
    started = time.time()
    verdict: Verdict | None = None
    run_scope = ctx.cancel
    scope = ctx.cancel = run_scope.child()
    # A suite that hangs yields nothing, so the deadline is a timer that cancels its scope.
    seconds = ctx.options.timeout_seconds
    timeout = (
        CancelReason.TIMEOUT,
        f"suite '{label}' timed out after {seconds:.0f}s",
        "raise the timeout or shrink the run",
    )
    timer = threading.Timer(seconds, scope.cancel, args=timeout)
    timer.daemon = True
    timer.start()
    ctx.adapter.coverage.suite = label
    retries = _recoveries(ctx)
    try:
        suite = load_suite(name)
        with interrupts(run_scope):
            for raw in suite(ctx):
                scope.raise_if_cancelled()  # nothing a cancelled suite says counts
                event = _relabel(raw, label) if label != name else raw
                if isinstance(event, SuiteFinished):
                    verdict = event.verdict
                yield event
            # A suite that wound down on its own once cancelled has not finished.
            scope.raise_if_cancelled()
    except Cancelled as exc:
        if exc.reason is CancelReason.INTERRUPT:
            yield _errored(label, started, exc.one_line())
            raise
        yield EngineError(suite=label, message=exc.one_line(), time=time.time())
        yield _coverage(ctx, label, retries)
        yield _errored(label, started, exc.one_line())
        return Verdict.ERROR
    except ChaperoneError as exc:
        if isinstance(exc, TargetUnreachable):
            run_scope.cancel(
                CancelReason.LOST_TARGET, f"stopped after suite '{label}': {exc.problem}", exc.fix
            )
        yield EngineError(suite=label, message=exc.one_line(), time=time.time())
        yield _coverage(ctx, label, retries)
        yield _errored(label, started, exc.one_line())
        return Verdict.ERROR
    except Exception as exc:  # a bug in a suite still fails closed, with the reason kept
        message = f"internal error in suite '{label}': {type(exc).__name__}: {exc}"
        yield EngineError(suite=label, message=message, time=time.time())
        yield _coverage(ctx, label, retries)
        yield _errored(label, started, message)
        return Verdict.ERROR
    finally:
        timer.cancel()
        ctx.cancel = run_scope
        ctx.seeding.pristine = False  # the suite has used this seeding's calls
    yield _coverage(ctx, label, retries)
    if verdict is None:
        message = f"suite '{label}' ended without a verdict"
        yield EngineError(suite=label, message=message, time=time.time())
        return Verdict.ERROR
    return verdict


@dataclass
class _Ended:
    verdict: Verdict
    raised: BaseException | None = None


def _run_together(names: tuple[str, ...], ctx: RunContext) -> Generator[Event, None, list[Verdict]]:
    """Run a TOGETHER pair at once on one fresh seeding, each suite through `_run_suite` in a
    thread of its own, passing their events on as they come. The second starts once the first
    has claimed its users (or ended); their verdicts come back in the pair's order."""
    world = ctx.reseed()
    claimed: list[str] = []
    settled = threading.Event()

    def claim(users: Iterable[str]) -> None:
        claimed.extend(users)
        settled.set()

    inbox: queue.Queue[tuple[int, Event | _Ended]] = queue.Queue()

    def drive(index: int, view: RunContext) -> None:
        steps = _run_suite(names[index], view)
        try:
            while True:
                inbox.put((index, next(steps)))
        except StopIteration as done:
            inbox.put((index, _Ended(done.value)))
        except BaseException as exc:  # handed to the engine's thread, which fails closed
            inbox.put((index, _Ended(Verdict.ERROR, exc)))
        finally:
            settled.set()  # a first suite that ended without claiming claims nobody

    def start(index: int, view: RunContext) -> None:
        # A copy of this thread's context: what the suite sets (its coverage label) stays its own.
        runner = contextvars.copy_context().run
        thread = threading.Thread(
            target=runner, args=(drive, index, view), name=f"chaperone-{names[index]}", daemon=True
        )
        thread.start()

    def fresh() -> World:
        return world  # the pair's one seeding: neither suite resets the target

    start(0, replace(ctx, reseed=fresh, claim=claim))
    ended: dict[int, _Ended] = {}
    second = False
    try:
        with interrupts(ctx.cancel):  # cancels both suites' scopes: they wind down
            while len(ended) < len(names):
                if not second and settled.is_set():
                    start(1, replace(ctx, reseed=fresh, reserved=frozenset(claimed)))
                    second = True
                event = _received(inbox, ended)
                if event is not None:
                    yield event
    except Cancelled:
        # What the suites yield on their way out is kept.
        yield from _drain(inbox, ended, len(names) if second else 1)
        raise
    for index in sorted(ended):
        raised = ended[index].raised
        if raised is not None:
            raise raised  # as `_run_suite` would have raised it, run alone
    return [ended[i].verdict for i in sorted(ended)]


def _drain(
    inbox: queue.Queue[tuple[int, Event | _Ended]], ended: dict[int, _Ended], count: int
) -> Generator[Event, None, None]:
    deadline = time.monotonic() + 30
    while len(ended) < count and time.monotonic() < deadline:
        event = _received(inbox, ended)
        if event is not None:
            yield event


def _received(
    inbox: queue.Queue[tuple[int, Event | _Ended]], ended: dict[int, _Ended]
) -> Event | None:
    """The next event one of the pair yielded; None when nothing came within 0.2 s or a suite
    ended (recorded in `ended`)."""
    try:
        index, item = inbox.get(timeout=0.2)
    except queue.Empty:
        return None
    if isinstance(item, _Ended):
        ended[index] = item
        return None
    return item


def _recoveries(ctx: RunContext) -> tuple[int, int]:
    """Retries and re-logins so far, when the target counts them."""
    counts = ctx.capability(RECOVERIES)
    return (counts.retries, counts.relogins) if counts is not None else (0, 0)


def _coverage(ctx: RunContext, label: str, before: tuple[int, int]) -> CoverageReported:
    retries, relogins = _recoveries(ctx)
    discovery = ctx.capability(DISCOVERY)
    return CoverageReported(
        suite=label,
        rows=tuple(ctx.adapter.coverage.rows(label)),
        retries=retries - before[0],
        unfilled=tuple(discovery.unfilled_routes()) if discovery is not None else (),
        sources=tuple(ctx.adapter.coverage.sources(label).items()),
        found=tuple(ctx.adapter.coverage.found_routes().items()),
        bounds=tuple(ctx.adapter.coverage.bounds().items()),
        depth=tuple(ctx.adapter.coverage.depths().values()),
        relogins=relogins - before[1],
    )


def _errored(name: str, started: float, message: str) -> SuiteFinished:
    return SuiteFinished(
        suite=name,
        verdict=Verdict.ERROR,
        seconds=time.time() - started,
        time=time.time(),
        message=message,
    )
