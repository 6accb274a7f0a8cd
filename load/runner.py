"""Runs Locust as a subprocess group and reads back what it measured and what its workers found.

This is the harness side: it never imports Locust or gevent (importing Locust monkey-patches the
interpreter). It writes world.json, spawns one local Locust process, or a master and N local
workers (and the master waits for M remote ones: `chaperone load-worker`), tails the findings
files the master or local process writes while they run, watches the target's health, and
bounds the whole run in time. Workers get no file and no environment of the run: the master
hands them the world over Locust's messages. Anything that stops Locust from producing a
trustworthy result is an InfrastructureError: a load run that did not happen must never read as
a pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.cancel import CancelScope
from harness.childenv import child_env, named_by
from harness.errors import InfrastructureError, TargetUnreachable
from harness.models import Finding
from harness.world import World
from load import contract
from load.call_loop import CLOSE_BOUND
from load.contract import DiscoveredRead, LoadSettings
from load.findings_io import FindingsTail
from load.stats import LoadStats, read_stats

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
_POLL_SECONDS = 0.5
_HEALTH_EVERY = 2.0
_HEALTH_STRIKES = 2  # consecutive failed health checks before the target counts as dead
_STARTUP_GRACE = 30.0  # interpreter start, locustfile import, workers connecting
_STOP_GRACE = 15.0  # users finishing, stats and CSVs written
# With real calls a process then closes its two asyncio loops (the calls', the judge's), each
# within its own bound, and the deadline must allow what the locustfile itself allows. (CI
# once stopped a clean 10-call run at 85 s, with nothing on record to say where it was: hence
# the stacks an overrun now leaves.)
_MEDIA_STOP = 2 * CLOSE_BOUND
_STACKS_WAIT = 1.0  # for a process to write its threads' stacks before it is stopped
_TERMINATE_WAIT = 5.0


LOCUST_DEFAULT_PORT = 5557


@dataclass(frozen=True, slots=True)
class LoadPlan:
    target: str
    users: int
    seconds: float
    workers: int = 0  # local worker processes
    flow_users: int = 0
    check_leaks: bool = True
    wave_seconds: float = 1.0
    expect_workers: int = 0  # remote workers (`chaperone load-worker`) the master waits for
    master_host: str = "127.0.0.1"  # where the master binds
    master_port: int = 0  # 0: a free port, or Locust's 5557 when remote workers must find it
    join_seconds: float = 30.0  # how long the master waits for every worker to join
    health: str | None = "/healthz"  # a path that answers 2xx while the target is up
    discovered: tuple[DiscoveredRead, ...] = ()
    user_classes: tuple[str, ...] = ("ReadUser", "FlowUser")
    reserved: tuple[str, ...] = ()  # users no journey may take (a suite beside drives them)
    media: bool = False  # real calls: each journey user is a headless WebRTC caller

    @property
    def run_time(self) -> int:
        return max(1, round(self.seconds))

    @property
    def distributed(self) -> bool:
        return self.workers + self.expect_workers > 0

    @property
    def deadline(self) -> float:
        joining = self.join_seconds if self.distributed else 0.0
        stopping = _STOP_GRACE + (_MEDIA_STOP if self.media else 0.0)
        return self.run_time + joining + _STARTUP_GRACE + stopping

    def settings(self) -> LoadSettings:
        return LoadSettings(
            check_leaks=self.check_leaks,
            flow_users=self.flow_users,
            wave_seconds=self.wave_seconds,
            workers=max(1, self.workers + self.expect_workers),
            discovered=self.discovered,
            reserved=self.reserved,
            media=self.media,
        )


def locust_command() -> tuple[str, ...]:
    """This interpreter's `-m locust`, or the command in $CHAPERONE_LOCUST (another venv's)."""
    override = os.environ.get(contract.ENV_LOCUST, "").strip()
    if override:
        return tuple(shlex.split(override))
    if importlib.util.find_spec("locust") is None:
        raise InfrastructureError(
            "Locust is not installed in this environment",
            "install it (pip install locust) or leave the load suite out of --suites",
        )
    return (sys.executable, "-m", "locust")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def master_port(plan: LoadPlan) -> int:
    if plan.master_port:
        return plan.master_port
    return LOCUST_DEFAULT_PORT if plan.expect_workers else _free_port()


def commands(plan: LoadPlan, run_dir: Path) -> list[list[str]]:
    """The Locust command lines: the local process or master first, then any local workers."""
    base = [*locust_command(), "-f", str(LOCUSTFILE)]
    main = [
        *base,
        "--headless",
        *("-u", str(plan.users), "-r", str(plan.users), "-t", f"{plan.run_time}s"),
        *("-H", plan.target),
        *("--csv", str(run_dir / contract.CSV_PREFIX), "--csv-full-history"),
        # Locust appends ".json" to this name itself.
        *("--json-file", str(run_dir / Path(contract.JSON_FILE).stem)),
        "--only-summary",
        # Failed requests are measured by the SLOs; a non-zero exit must mean Locust broke.
        *("--exit-code-on-error", "0"),
        *("--stop-timeout", "2"),
        *("--logfile", str(run_dir / contract.LOG_FILE), "--loglevel", "INFO"),
    ]
    if not plan.distributed:
        return [main + list(plan.user_classes)]
    port = str(master_port(plan))
    expected = plan.workers + plan.expect_workers
    main += [
        "--master",
        *("--master-bind-host", plan.master_host, "--master-bind-port", port),
        *("--expect-workers", str(expected)),
        *("--expect-workers-max-wait", str(round(plan.join_seconds))),
        *plan.user_classes,
    ]
    connect = "127.0.0.1" if plan.master_host in ("0.0.0.0", "*", "") else plan.master_host
    workers = [
        worker_command(connect, int(port), run_dir / f"worker-{i}.log") for i in range(plan.workers)
    ]
    return [main, *workers]


def worker_command(host: str, port: int, logfile: Path | None = None) -> list[str]:
    """A Locust worker of the load suite, joining the master at host:port. It needs nothing
    else: the master sends it the world."""
    argv = [*locust_command(), "-f", str(LOCUSTFILE), "--worker"]
    argv += ["--master-host", host, "--master-port", str(port)]
    # Failed requests are the master's statistics; a worker's exit code says whether it broke.
    argv += ["--exit-code-on-error", "0"]
    if logfile is not None:
        argv += ["--logfile", str(logfile)]
    return [*argv, "--loglevel", "INFO"]


def environment(plan: LoadPlan, run_dir: Path, named: Mapping[str, str] = {}) -> dict[str, str]:
    """The master's (or local process's) environment, without credentials (Locust needs none:
    it learns the world from world.json), plus where the world is and where findings go, and
    the variables the profile's `{{env.NAME}}` placeholders name (`named`)."""
    env = worker_environment(named)
    env.update(
        {
            contract.ENV_WORLD: str(run_dir / contract.WORLD_FILE),
            contract.ENV_FINDINGS: str(run_dir / contract.FINDINGS_DIR),
            contract.ENV_SETTINGS: json.dumps(plan.settings().to_json()),
        }
    )
    return env


def worker_environment(named: Mapping[str, str] = {}) -> dict[str, str]:
    """This process's allow-listed environment without any of the run's (a worker learns
    everything from the master), plus the variables the profile's steps read (`named`)."""
    run_vars = (contract.ENV_WORLD, contract.ENV_FINDINGS, contract.ENV_SETTINGS)
    return {k: v for k, v in child_env(named).items() if k not in run_vars}


class LocustGroup:
    """The spawned processes, each in its own session so a signal reaches its children too."""

    def __init__(
        self,
        argvs: Sequence[Sequence[str]],
        env: dict[str, str],
        run_dir: Path,
        plan: LoadPlan | None = None,
        named: Mapping[str, str] | None = None,
    ):
        self.processes: list[subprocess.Popen[bytes]] = []
        self._signalled: set[int] = set()  # a process we stopped did not crash
        self._run_dir = run_dir
        self._plan = plan
        self._named = dict(named or {})
        try:
            for i, argv in enumerate(argvs):
                out = (run_dir / f"process-{i}.out").open("wb")
                # Workers get neither the run's environment nor its directory.
                cwd = run_dir if i == 0 else _empty_dir(run_dir / f"worker-{i - 1}")
                with out:
                    self.processes.append(
                        subprocess.Popen(
                            list(argv),
                            env=env if i == 0 else worker_environment(self._named),
                            cwd=cwd,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            start_new_session=True,
                        )
                    )
        except OSError as exc:
            self.terminate()
            raise InfrastructureError(
                f"cannot start Locust ({argvs[0][0]}: {exc.strerror or exc})",
                "install Locust into the environment Chaperone runs in",
            ) from exc

    @property
    def main(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    @property
    def run_dir(self) -> Path:
        return self._run_dir

    def finished(self) -> bool:
        return all(p.poll() is not None for p in self.processes)

    def dump_stacks(self) -> None:
        """Asks each live process (not its children) for its threads' stacks, in its output."""
        sig = signal.Signals[contract.STACKS_SIGNAL]
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)
        time.sleep(_STACKS_WAIT)

    def terminate(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self._signalled.add(process.pid)
            _signal_group(process, signal.SIGTERM)
        ends = time.monotonic() + _TERMINATE_WAIT
        for process in self.processes:
            try:
                process.wait(max(0.1, ends - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def failure(self) -> str | None:
        """Why the run is untrustworthy, from exit codes; None when every process exited 0."""
        reported = self._run_dir / contract.FINDINGS_DIR / contract.FAILURE_FILE
        if reported.is_file():
            return reported.read_text(encoding="utf-8", errors="replace").strip()
        for i, process in enumerate(self.processes):
            if process.returncode not in (0, None) and process.pid not in self._signalled:
                if i == 0 and _gave_up_waiting(self._run_dir):
                    return self._never_joined()
                tail = _tail(self._run_dir / f"process-{i}.out") or _tail(
                    self._run_dir / contract.LOG_FILE
                )
                role = "Locust" if i == 0 else f"Locust worker {i}"
                return f"{role} exited with code {process.returncode}: {tail}"
        return None

    def _never_joined(self) -> str:
        plan = self._plan
        if plan is None:
            return "not every load worker joined the Locust master"
        expected = plan.workers + plan.expect_workers
        where = f"{plan.master_host}:{master_port(plan)}"
        return (
            f"not all {expected} load worker(s) joined the master at {where} within "
            f"{plan.join_seconds:.0f} s ({plan.expect_workers} remote: chaperone load-worker "
            f"--master HOST:PORT)"
        )


def _gave_up_waiting(run_dir: Path) -> bool:
    try:
        text = (run_dir / contract.LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "Gave up waiting for workers" in text


def _empty_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class HealthWatch:
    """Polls the profile's health path (2xx while up) or, without one, the target's root (any
    answer while up); a dead target makes the run's numbers meaningless."""

    def __init__(self, target: str, path: str | None = "/healthz") -> None:
        self._url = target.rstrip("/") + (path or "/")
        self._any_answer = path is None
        self._strikes = 0
        self._next = time.monotonic() + _HEALTH_EVERY

    def check(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + _HEALTH_EVERY
        try:
            status = httpx.get(self._url, timeout=2.0).status_code
            alive = self._any_answer or 200 <= status < 300
        except httpx.HTTPError:
            alive = False
        self._strikes = 0 if alive else self._strikes + 1
        if self._strikes >= _HEALTH_STRIKES:
            raise TargetUnreachable(
                f"the target stopped answering {self._url} during the load run",
                "check the target's logs; it may have crashed under load",
            )


def run_locust(
    plan: LoadPlan, world: World, run_dir: Path, cancel: CancelScope
) -> Generator[Finding, None, LoadStats]:
    """Run Locust, yielding findings as the workers write them; returns the statistics.

    Findings found before a failure are always yielded before the error is raised. When
    `cancel` is cancelled, Locust is stopped and its `Cancelled` raised.
    """
    run_dir = run_dir.resolve()  # Locust runs with run_dir as its working directory
    _clear_previous(run_dir)
    world.save(run_dir / contract.WORLD_FILE)
    findings_dir = run_dir / contract.FINDINGS_DIR
    findings_dir.mkdir(exist_ok=True)
    tail = FindingsTail(findings_dir)
    named = named_by([json.dumps(world.profile)])
    group = LocustGroup(
        commands(plan, run_dir), environment(plan, run_dir, named), run_dir, plan, named
    )
    try:
        yield from _supervise(group, plan, tail, cancel)
    except GeneratorExit:
        group.terminate()
        raise
    except BaseException:
        group.terminate()
        yield from tail.read_new()
        raise
    group.terminate()
    yield from tail.read_new()
    failure = group.failure()
    if failure:
        raise InfrastructureError(failure, f"see the Locust logs in {run_dir}")
    return read_stats(run_dir)


def _clear_previous(run_dir: Path) -> None:
    """An earlier run's CSVs or findings in a reused directory must never be read as this one's."""
    run_dir.mkdir(parents=True, exist_ok=True)
    stale = [*run_dir.glob(f"{contract.CSV_PREFIX}*"), *run_dir.glob("*.log")]
    findings = run_dir / contract.FINDINGS_DIR
    stale += findings.glob("findings-*.jsonl")
    stale += [findings / contract.COVERAGE_FILE, findings / contract.FAILURE_FILE]
    stale += [findings / contract.MEDIA_FILE]
    for path in stale:
        path.unlink(missing_ok=True)


def _supervise(
    group: LocustGroup, plan: LoadPlan, tail: FindingsTail, cancel: CancelScope
) -> Generator[Finding, None, None]:
    health = HealthWatch(plan.target, plan.health)
    ends = time.monotonic() + plan.deadline
    while group.main.poll() is None:
        if cancel.wait(_POLL_SECONDS):
            cancel.raise_if_cancelled()
        yield from tail.read_new()
        health.check()
        if time.monotonic() > ends:
            group.dump_stacks()
            last = _tail(group.run_dir / contract.LOG_FILE, lines=1)
            raise InfrastructureError(
                f"Locust did not finish within {plan.deadline:.0f} s"
                + (f" (its last log line: {last})" if last else ""),
                "the target or Locust may be hanging: the stacks of Locust's threads are in "
                "process-0.out in the run directory, beside its log",
            )
    # The master is done; workers quit on its signal and get a moment to write their last lines.
    stop = time.monotonic() + _TERMINATE_WAIT
    while not group.finished() and time.monotonic() < stop:
        time.sleep(0.1)
