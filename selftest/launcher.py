"""One planned run carried out: `python -m chaperone run ...` in its own process group, with a
credential-free environment (harness.childenv), its output in DIR/chaperone.log; then
DIR/report.json is read back into a RunOutcome.

A run that left no readable report.json, exited with a code `chaperone run` never uses, or
overran `timeout` could not be carried out: its outcome carries `infra_error`. `stop()` (on
Ctrl-C, or SIGTERM, which the CLI turns into one) ends every live process group, so no run
outlives the selftest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.childenv import child_env
from harness.errors import ChaperoneError, ExitCode
from harness.reaping import reap
from harness.zygote_client import ZYGOTE_ENV, ForkedProcess, ZygoteUnavailable, spawn
from reports.json_report import load_report
from selftest.outcome import RunOutcome
from selftest.plan import PlannedRun

RUN_TIMEOUT = 900.0  # seconds; longer than any targeted run takes on 2 busy cores
STOP_GRACE = 15.0  # a stopped run closes its reports and its clinic within this
POLL_SECONDS = 0.1
LOG_NAME = "chaperone.log"


class Launcher:
    """Runs one PlannedRun as a `chaperone run` subprocess; `stop()` ends every live one."""

    def __init__(
        self,
        out_root: Path,
        timeout: float = RUN_TIMEOUT,
        command: Sequence[str] = (sys.executable, "-m", "chaperone", "run"),
        env: Mapping[str, str] | None = None,
        zygote: str | None = None,
    ) -> None:
        self.out_root = out_root
        self.timeout = timeout
        self.command = tuple(command)
        self.env = dict(env) if env is not None else child_env()
        self.zygote = zygote
        if zygote is not None:  # the runs start their clinics through it too
            self.env[ZYGOTE_ENV] = zygote
        self._lock = threading.Lock()
        self._live: set[Child] = set()
        self._stopping = False

    def __call__(self, planned: PlannedRun) -> RunOutcome:
        out = (self.out_root / planned.directory).resolve()
        started = time.monotonic()
        code, cpu, problem = self._execute(planned, out)
        seconds = time.monotonic() - started
        problem = problem or unexpected_exit(code)
        if problem is not None:
            return RunOutcome(planned, None, seconds, str(out), problem, code, cpu)
        try:
            result = load_report(out / "report.json")
        except ChaperoneError:
            why = last_error(out / LOG_NAME) or f"exited with code {code} and wrote no report"
            return RunOutcome(planned, None, seconds, str(out), why, code, cpu)
        return RunOutcome(planned, result, seconds, str(out), None, code, cpu)

    def _execute(self, planned: PlannedRun, out: Path) -> tuple[int | None, float, str | None]:
        """(exit code, CPU seconds, why the run could not be carried out)."""
        shutil.rmtree(out, ignore_errors=True)  # a stale report must never pass for this run's
        out.mkdir(parents=True, exist_ok=True)
        argv = [*self.command, *planned.arguments(out)]
        with (out / LOG_NAME).open("wb") as log, self._lock:
            if self._stopping:
                return None, 0.0, "interrupted"
            try:
                child = self._start(argv, log.fileno())
            except OSError as exc:
                return None, 0.0, f"cannot start {argv[0]}: {exc.strerror or exc}"
            self._live.add(child)
        problem = None
        if not child.wait(self.timeout):
            child.end()
            problem = f"did not finish within {self.timeout:.0f} s"
        with self._lock:
            self._live.discard(child)
            if self._stopping:
                problem = "interrupted"
        return child.returncode, child.cpu_seconds, problem

    def _start(self, argv: list[str], log: int) -> Child:
        """By the fork server when there is one (no imports to pay for), else as a subprocess;
        either way in its own session, so that signals reach its children."""
        if self.zygote is not None:
            try:
                return ForkedChild(spawn(self.zygote, argv, self.env, stdout=log, stderr=log))
            except ZygoteUnavailable as exc:  # it only saves time: say so, and go on
                os.write(log, f"note: {exc.one_line()}; started the ordinary way\n".encode())
        return PopenChild(
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        """No new run starts; every live one is ended (SIGTERM, then SIGKILL after a grace).
        The workers reap them; this only signals and waits for that."""
        with self._lock:
            self._stopping = True
            live = list(self._live)
        for child in live:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while any(not c.done() for c in live) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        for child in live:
            child.signal(signal.SIGKILL)


class Child:
    """One live `chaperone run`, reaped only by `wait` (in its worker thread), with its CPU
    time: its own and that of the processes it waited for (its clinic, Locust), so a run's cost
    is known whoever else shares the machine."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.cpu_seconds = 0.0

    def done(self) -> bool:
        return self.returncode is not None

    def wait(self, timeout: float | None) -> bool:
        """True once it has exited (and is reaped); False if it still runs after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._poll(remaining)
        return True

    def _poll(self, timeout: float | None) -> None:
        """Waits up to about `timeout` for the exit; sets returncode and cpu_seconds."""
        raise NotImplementedError

    def end(self) -> None:
        """SIGTERM to its group, SIGKILL after the grace; reaped when this returns."""
        self.signal(signal.SIGTERM)
        if not self.wait(STOP_GRACE):
            self.signal(signal.SIGKILL)
            self.wait(None)

    def signal(self, sig: signal.Signals) -> None:
        if self.done():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


class PopenChild(Child):
    """Our own child: os.wait4 reaps it and gives its CPU time."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(process.pid)
        self.process = process

    def _poll(self, timeout: float | None) -> None:
        reaped = reap(self.pid, POLL_SECONDS if timeout is None else min(POLL_SECONDS, timeout))
        if reaped is not None:
            self.returncode = self.process.returncode = reaped[0]
            self.cpu_seconds = reaped[1]


class ForkedChild(Child):
    """The fork server's child: the server reaps it and reports its exit and CPU time, which
    include those of the clinic it started through the server."""

    def __init__(self, process: ForkedProcess) -> None:
        super().__init__(process.pid)
        self.process = process

    def _poll(self, timeout: float | None) -> None:
        try:
            self.process.wait(POLL_SECONDS if timeout is None else min(POLL_SECONDS, timeout))
        except subprocess.TimeoutExpired:
            return
        self.cpu_seconds = self.process.cpu_seconds
        self.returncode = self.process.returncode


def unexpected_exit(code: int | None) -> str | None:
    """`chaperone run` exits 0, 1 or 2; anything else (a signal, a crash) is not a run."""
    if code is None or code in (ExitCode.PASS, ExitCode.FAIL, ExitCode.ERROR):
        return None
    if code < 0:
        return f"killed by signal {-code}"
    return f"exited with code {code}"


def last_error(log: Path) -> str:
    """The child's one-line error (`chaperone: error: ...`), else its last line."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("chaperone: ")]
    chosen = errors[-1] if errors else (lines[-1] if lines else "")
    return chosen.removeprefix("chaperone: ").removeprefix("error: ")[:500]
