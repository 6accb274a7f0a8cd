"""The load suite's Locust users. Only Locust imports this file, in its own processes.

Everything the users do comes from the target profile inside the World (load.workload,
load.virtual_user); this file only carries their requests over Locust's client and moves the
world, findings and coverage between Locust processes:

* one local process (no workers): reads world.json and the settings from its environment,
  writes findings and coverage to the run's findings directory;
* master: reads the same, runs no users, and sends the world and settings to each worker that
  says hello (a Locust message); writes what the workers send back, one findings file per
  worker; fails the run (exit code 3, findings/failure.txt) when a worker goes missing, leaves,
  or cannot build the world;
* worker (local or `chaperone load-worker` on another machine): touches no file of the run. Its
  users wait for the world before sending anything; findings and coverage go back as messages.

Two user classes share the run: ReadUser does the profile's load reads by weight, FlowUser takes
the profile's load journeys (for the clinic: join, switch in shared wall-clock waves, list the
recordings after each switch, end the call, then the next appointment).

With real calls (`--media real`) each journey user is also a headless WebRTC caller (load.calls)
whose camera and microphone carry its canary, and it reads the media of every recording its
lists show; the leak check decodes it (the media oracle) within its budget (load.checker). The
callers of a process share one asyncio loop on a real OS thread (load.call_loop): gevent's
threads are greenlets, and its selectors and locks do not work from another OS thread, so the
loop gets the unpatched epoll selector and the users wait by polling. Recordings are decoded on a
second such loop, so the hub keeps serving the users and the heartbeats to the master.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.util
from gevent import monkey
from gevent.event import Event as GeventEvent
from gevent.lock import BoundedSemaphore
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from harness.adapters.calls import make_caller, media_plan
from harness.client.listing import EntityParser
from harness.coverage import Coverage
from harness.models import Finding, Observation
from harness.profile.model import TargetProfile
from harness.world import Resource, World
from load import contract
from load.call_loop import CallLoop
from load.calls import CallDriver, prepare_media
from load.checker import CheckBudget, LeakChecker, MediaTally, observation_of
from load.contract import LoadSettings
from load.findings_io import (
    FindingsFile,
    row_from_json,
    row_to_json,
    write_coverage,
    write_media,
)
from load.virtual_user import Process, Request, VirtualUser
from load.workload import Workload

log = logging.getLogger("chaperone.load")

_WORLD_WAIT = 120.0  # how long users of a worker wait for the world before giving up (silently)
_HELLO_EVERY = 2.0
_FLUSH_EVERY = 2.0
_JUDGE_SECONDS = 120.0  # one recording's decoding on a starved machine (its own cap is 5 s)
_READY_GRACE = 30.0  # after the test starts, every worker must have built the world by then
_STARTING = BoundedSemaphore()  # one greenlet at a time starts a process-wide loop
_SETTINGS = LoadSettings.from_json(json.loads(os.environ.get(contract.ENV_SETTINGS) or "{}"))


class _State:
    """Per-process state shared by the users of this process."""

    process: Process | None = None
    ready = GeventEvent()
    index = 0  # this process's index among the workers (0 for the local process)
    counters: dict[str, int] = {}
    calls: CallLoop | None = None  # the real calls' loop, started by the first caller
    judging: CallLoop | None = None  # where recordings are decoded, off the gevent hub
    # How this process reports that the run cannot be trusted (set by its role).
    fail: Callable[[str], None] = staticmethod(lambda reason: log.error("chaperone: %s", reason))


def _build(world_doc: dict[str, Any], settings: LoadSettings, report: Any) -> Process:
    world = World.from_json(world_doc)
    profile = TargetProfile.model_validate(world.profile)
    entities = EntityParser(profile, world)
    budget = CheckBudget(share=settings.check_share)
    checker = LeakChecker.for_world(world, entities, budget) if settings.check_leaks else None
    if checker is not None and settings.media:
        checker.offload = _judge_off_hub
    workload = Workload(profile, world, settings.discovered, settings.reserved)
    return Process(workload, settings, entities, checker, report)


def _call_loop() -> CallLoop:
    """This process's loop for real calls, on an OS thread with the unpatched epoll."""
    with _STARTING:
        if _State.calls is None:
            _State.calls = _new_loop()
    return _State.calls


def _new_loop() -> CallLoop:
    """An asyncio loop on a real OS thread. Callers hold `_STARTING`: starting one waits with
    gevent's sleep, and without the lock every greenlet that asked meanwhile started its own
    loop (one per user: ten loops fighting for the GIL, some calls never connected)."""
    prepare_media()
    start = monkey.get_original("_thread", "start_new_thread")
    selector = monkey.get_original("selectors", "EpollSelector")
    return CallLoop(lambda fn: start(fn, ()), gevent.sleep, selector)


def _judge_off_hub(judging: Callable[[], list[Finding]]) -> list[Finding]:
    """Decode a recording on its own OS thread: on the hub it would stall every user of the
    process and the worker's heartbeats (the master would count the worker missing)."""
    with _STARTING:
        if _State.judging is None:
            _State.judging = _new_loop()

    async def judge() -> list[Finding]:
        return judging()

    return _State.judging.run(judge(), _JUDGE_SECONDS, "judge stored media")


def _media_tally() -> MediaTally:
    process = _State.process
    if process is None or process.checker is None:
        return MediaTally()
    return process.checker.media


def _listen(hook: Any, listener: Callable[..., None]) -> None:
    """Locust's event hooks are untyped."""
    hook.add_listener(listener)


def _read_slot() -> int:
    """Readers spread over the users round robin across processes (two may share one)."""
    local = _State.counters.get("read", 0)
    _State.counters["read"] = local + 1
    workers = _State.process.settings.workers if _State.process is not None else 1
    return local * workers + _State.index % workers


def _flow_slot(settings: LoadSettings) -> int:
    """A journey slot no other user of any process has: each process owns a block of
    `flow_block` slots, so two journeys never drive the same resource even when Locust gives
    one worker more journey users than another."""
    local = _State.counters.get("flow", 0)
    _State.counters["flow"] = local + 1
    return (_State.index % settings.workers) * settings.flow_block + local


# -- the three process roles ---------------------------------------------------------------


def _from_environment() -> tuple[dict[str, Any], Path]:
    world_doc = json.loads(Path(os.environ[contract.ENV_WORLD]).read_text(encoding="utf-8"))
    return world_doc, Path(os.environ[contract.ENV_FINDINGS])


class _Local:
    """No workers: this process runs the users and writes findings and coverage itself."""

    def __init__(self, environment: Environment) -> None:
        world_doc, self.out = _from_environment()
        self.file = FindingsFile(self.out / f"findings-{os.getpid()}.jsonl")
        self.environment = environment
        _State.process = _build(world_doc, _SETTINGS, self.report)
        _State.fail = self.fail
        _State.ready.set()
        _listen(environment.events.test_stop, self.flush)
        _listen(environment.events.quitting, self.close)
        gevent.spawn(self.flush_forever)

    def report(self, found: list[Finding]) -> None:
        self.file.write(f.to_json() for f in found)

    def fail(self, reason: str) -> None:
        _fail_run(self.environment, self.out, reason)

    def flush(self, **_: Any) -> None:
        if _State.process is not None:
            write_coverage(self.out, _State.process.coverage)
            write_media(self.out, _media_tally())

    def flush_forever(self) -> None:
        while True:
            gevent.sleep(_FLUSH_EVERY)
            self.flush()

    def close(self, **_: Any) -> None:
        self.flush()
        self.file.close()


class _Master:
    """Hands each worker the world; merges what the workers send back; fails closed."""

    def __init__(self, environment: Environment, runner: MasterRunner) -> None:
        self.environment = environment
        self.runner = runner
        world_doc, self.out = _from_environment()
        self.world = {"world": world_doc, "settings": _SETTINGS.to_json()}
        self.indexes: dict[str, int] = {}
        self.ready: set[str] = set()
        self.files: dict[int, FindingsFile] = {}
        self.coverage = Coverage()
        self.media = MediaTally()
        self.failed = False
        self.started_at: float | None = None
        for name, handler in (
            (contract.MSG_HELLO, self.on_hello),
            (contract.MSG_READY, self.on_ready),
            (contract.MSG_FINDINGS, self.on_findings),
            (contract.MSG_COVERAGE, self.on_coverage),
            (contract.MSG_FAILED, self.on_failed),
        ):
            runner.register_message(name, handler)
        _listen(environment.events.test_start, self.on_test_start)
        _listen(environment.events.test_stop, self.flush)
        _listen(environment.events.quitting, self.close)
        gevent.spawn(self.watch)

    def index_of(self, client_id: str) -> int:
        return self.indexes.setdefault(client_id, len(self.indexes))

    def on_hello(self, environment: Environment, msg: Any, **_: Any) -> None:
        index = self.index_of(msg.node_id)
        if index >= _SETTINGS.workers:
            # Its journeys would reuse another worker's slots (and resources): refuse the run.
            self.fail(f"a load worker joined beyond the {_SETTINGS.workers} expected")
            return
        self.runner.send_message(
            contract.MSG_WORLD, {**self.world, "index": index}, client_id=msg.node_id
        )

    def on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.ready.add(msg.node_id)
        log.info("load worker %s has the world", self.index_of(msg.node_id))

    def on_findings(self, environment: Environment, msg: Any, **_: Any) -> None:
        index = self.index_of(msg.node_id)
        if index not in self.files:
            self.files[index] = FindingsFile(self.out / f"findings-worker-{index}.jsonl")
        self.files[index].write(msg.data["findings"])

    def on_coverage(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.coverage.absorb(row_from_json(r) for r in msg.data["rows"])
        self.media.absorb(msg.data.get("media") or {})
        self.flush()

    def on_failed(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.fail(f"load worker {self.index_of(msg.node_id)}: {msg.data['reason']}")

    def on_test_start(self, **_: Any) -> None:
        self.started_at = time.monotonic()

    def watch(self) -> None:
        """A worker that stops answering, leaves, or never builds the world makes the run's
        load (and its leak checks) partial: an error, never a pass."""
        while not self.failed:
            gevent.sleep(1.0)
            if self.runner.state not in ("spawning", "running"):
                continue
            present = {c.id: c for c in self.runner.clients.all}
            for client_id, index in list(self.indexes.items()):
                client = present.get(client_id)
                if client is None and client_id in self.ready:
                    self.fail(f"load worker {index} left during the run")
                elif client is not None and client.state == "missing":
                    self.fail(f"load worker {index} stopped answering during the run")
            if self.started_at is not None and time.monotonic() - self.started_at > _READY_GRACE:
                late = [c for c in present if c not in self.ready]
                if late:
                    which = ", ".join(str(self.index_of(c)) for c in late)
                    self.fail(f"load worker(s) {which} never received the world")

    def fail(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            _fail_run(self.environment, self.out, reason)

    def flush(self, **_: Any) -> None:
        write_coverage(self.out, self.coverage)
        write_media(self.out, self.media)

    def close(self, **_: Any) -> None:
        self.flush()
        for file in self.files.values():
            file.close()


class _Worker:
    """Waits for the world from the master; sends findings and coverage back as messages."""

    def __init__(self, environment: Environment, runner: WorkerRunner) -> None:
        self.runner = runner
        runner.register_message(contract.MSG_WORLD, self.on_world)
        _State.fail = self.fail
        _listen(environment.events.test_stop, self.flush)
        gevent.spawn(self.hello_until_ready)
        gevent.spawn(self.flush_forever)

    def hello_until_ready(self) -> None:
        # Repeated: a hello sent before the master registered its handler would be lost.
        while not _State.ready.is_set():
            self.runner.send_message(contract.MSG_HELLO, {"pid": os.getpid()})
            _State.ready.wait(_HELLO_EVERY)

    def on_world(self, environment: Environment, msg: Any, **_: Any) -> None:
        if _State.ready.is_set():
            return
        try:
            settings = LoadSettings.from_json(msg.data["settings"])
            _State.process = _build(msg.data["world"], settings, self.report)
        except Exception as exc:  # any reason this worker cannot judge must reach the master
            self.fail(f"cannot build the world: {type(exc).__name__}: {exc}")
            return
        _State.index = int(msg.data["index"])
        _State.ready.set()
        self.runner.send_message(contract.MSG_READY, {"index": _State.index})

    def report(self, found: list[Finding]) -> None:
        self.runner.send_message(contract.MSG_FINDINGS, {"findings": [f.to_json() for f in found]})

    def fail(self, reason: str) -> None:
        log.error("chaperone: %s", reason)
        self.runner.send_message(contract.MSG_FAILED, {"reason": reason})

    def flush(self, **_: Any) -> None:
        process = _State.process
        if process is None:
            return
        # Counted since the last flush only: the master adds them up.
        counted, process.coverage = process.coverage, Coverage()
        rows = [row_to_json(r) for r in counted.rows()]
        media = MediaTally()
        if process.checker is not None:
            media, process.checker.media = process.checker.media, media
        if rows or not media.empty():
            self.runner.send_message(
                contract.MSG_COVERAGE, {"rows": rows, "media": media.to_json()}
            )

    def flush_forever(self) -> None:
        while True:
            gevent.sleep(_FLUSH_EVERY)
            self.flush()


def _fail_run(environment: Environment, out: Path, reason: str) -> None:
    """The run cannot be trusted: say why where the harness looks, exit non-zero, stop."""
    log.error("chaperone: %s", reason)
    out.mkdir(parents=True, exist_ok=True)
    (out / contract.FAILURE_FILE).write_text(reason + "\n", encoding="utf-8")
    environment.process_exit_code = 3
    if environment.runner is not None:
        gevent.spawn(environment.runner.quit)


def _user_error(exception: BaseException | None = None, **_: Any) -> None:
    """A load user that crashed did not do what the profile asks: its share of the reads and
    journeys is missing, so the run is an error, not a quieter pass."""
    _State.fail(f"a load user crashed: {type(exception).__name__}: {exception}")


def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    if isinstance(runner, MasterRunner):
        _Master(environment, runner)
    elif isinstance(runner, WorkerRunner):
        _Worker(environment, runner)
    else:
        _Local(environment)
    if not isinstance(runner, MasterRunner):
        _listen(environment.events.user_error, _user_error)
        _listen(environment.events.quitting, _stop_calls)


def _stop_calls(**_: Any) -> None:
    for loop in (_State.calls, _State.judging):
        if loop is not None:
            loop.close()


_listen(events.init, _on_init)


def _write_stacks() -> None:
    sys.stderr.write("\n".join(gevent.util.format_run_info()) + "\n")
    sys.stderr.flush()


# The harness sends this signal before it stops a run that overran its deadline; the stacks land
# in this process's output (stderr is process-N.out), the evidence of what it was stuck in. The
# hub writes every greenlet's and thread's stack; faulthandler, first and from C, writes the
# threads' stacks even when a greenlet that never yields keeps the hub from running.
gevent.signal_handler(signal.Signals[contract.STACKS_SIGNAL], _write_stacks)
faulthandler.register(signal.Signals[contract.STACKS_SIGNAL], all_threads=True, chain=True)


# -- the users -----------------------------------------------------------------------------


class _LoadUser(FastHttpUser):
    abstract = True
    user: VirtualUser | None = None

    def on_start(self) -> None:
        # Credentials are the profile's (headers, cookies), never a cookie jar's leftovers.
        self.client.client.cookiejar = None
        if not _State.ready.wait(_WORLD_WAIT):
            return  # no world, no traffic: the master reports this worker as never ready
        self.begin()

    def begin(self) -> None:
        raise NotImplementedError

    def rng(self, slot: int) -> random.Random:
        process = _State.process
        seed = process.workload.world.seed if process is not None else 0
        return random.Random(f"{seed}:{type(self).__name__}:{slot}")

    def send(self, request: Request) -> Observation:
        prep = request.prepared
        body: Any = prep.body_bytes() or None  # Locust's stubs say str, it sends bytes as they are
        started = time.perf_counter()
        with self.client.request(
            prep.method,
            prep.path,
            name=request.name,
            data=body,
            headers=request.headers,
            catch_response=True,
            allow_redirects=False,
        ) as response:
            elapsed = time.perf_counter() - started
            status = int(response.status_code or 0)
            if request.ok(status):
                response.success()
            else:
                response.failure(f"{request.name} answered {status}")
            headers = list(response.headers.items()) if response.headers is not None else []
            content = response.content or b""
        return observation_of(
            actor=request.actor,
            step=request.step,
            endpoint=prep.route,
            method=prep.method,
            url=prep.path,
            status=status,
            headers=headers,
            body=content,
            elapsed=elapsed,
            about=request.about,
        )

    def ensure_login(self) -> bool:
        if self.user is None:
            return False
        if self.user.logged_in or self.user.login():
            return True
        gevent.sleep(1.0)  # refused: try again later, without hammering the login
        return False


class ReadUser(_LoadUser):
    """Reads what its role may read, picked by the profile's load weights."""

    wait_time = constant(0.05)

    def begin(self) -> None:
        process = _State.process
        assert process is not None
        slot = _read_slot()
        actor = process.workload.reader(slot)
        if actor is not None:
            self.user = VirtualUser(process, actor, self.send, self.rng(slot))

    @task
    def read(self) -> None:
        if not self.ensure_login():
            gevent.sleep(0.5)
            return
        assert self.user is not None
        self.user.read_something()


class FlowUser(_LoadUser):
    """Takes a load journey on each of its resources in turn (for the clinic, its calls)."""

    wait_time = constant(0)
    fixed_count = _SETTINGS.flow_users
    steps: Any = None

    def begin(self) -> None:
        process = _State.process
        assert process is not None
        slot = _flow_slot(process.settings)
        assignment = process.workload.assignment(slot, process.settings.flow_slots)
        if assignment is not None:
            self.user = VirtualUser(process, assignment.actor, self.send, self.rng(slot))
            self.user.calls = self.caller(process, self.user)
            self.steps = self.user.journey(assignment)

    def caller(self, process: Process, user: VirtualUser) -> CallDriver | None:
        """With real calls, this user's caller (its canary on camera and microphone)."""
        profile = process.workload.profile
        plan = media_plan(profile)
        if not process.settings.media or plan is None:
            return None
        world, host = process.workload.world, self.host or ""

        def make(resource: Resource) -> Any:
            return make_caller(profile, host, world, user.session, resource)

        def live(since: float | None, until: float) -> None:
            tally = _media_tally()
            if since is None:
                tally.unconnected += 1
            else:
                tally.calls.append([since, until])

        return CallDriver(_call_loop(), plan, make, gevent.sleep, live)

    def on_stop(self) -> None:
        if self.user is not None and self.user.calls is not None:
            self.user.calls.close(wait=False)

    @task
    def step(self) -> None:
        if not self.ensure_login():
            gevent.sleep(0.5)
            return
        assert self.user is not None
        # Once every assigned resource is done, reads keep the load up.
        if next(self.steps, None) is None and not self.user.read_something():
            gevent.sleep(_SETTINGS.wave_seconds)
