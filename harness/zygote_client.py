"""Starting a process through a fork server (harness.zygote), and starting the server.

    with start_zygote(entries, preload, env, log) as zygote:  # ZygoteUnavailable if it can't
        process = spawn(zygote.path, [sys.executable, "-m", "chaperone", ...], env, cwd, stdout=fd)
        process.wait(timeout)        # like subprocess.Popen: poll, wait, returncode, pid
        process.cpu_seconds          # its CPU time and that of its children, once it exited

A process a server started is not the caller's child: the caller learns of its exit from the
server, over the connection `spawn` opened, and closing that connection (or dying) has the
server stop it. Its process group is its pid, as with `start_new_session=True`, so `os.killpg`
reaches it and its children.

`ZYGOTE_ENV` names the server's socket for the processes it starts, so that a run started
through it starts its clinic through it too (harness.local_clinic). Callers fall back to
`subprocess.Popen` on ZygoteUnavailable: the server only saves time.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import zygote_wire as wire
from harness.errors import InfrastructureError
from harness.parentdeath import preexec_hook
from harness.reaping import reap

ZYGOTE_ENV = "CHAPERONE_ZYGOTE"
CONNECT_TIMEOUT = 10.0  # the server answers a request as soon as it has forked
START_TIMEOUT = 60.0  # its preload: a few seconds on 2 busy cores
STOP_GRACE = 20.0  # it stops its children (SIGTERM, then SIGKILL after its own grace)


class ZygoteUnavailable(InfrastructureError):
    """No fork server, or it refused: start the process the ordinary way."""


class ForkedProcess:
    """A process a fork server started for us; the subset of `subprocess.Popen` we use."""

    def __init__(self, conn: socket.socket, pid: int, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self.cpu_seconds = 0.0
        self._conn: socket.socket | None = conn
        self._buffer = b""

    def poll(self) -> int | None:
        self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            self._read(remaining)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Done with it: a process still running is stopped by the server."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _read(self, timeout: float | None) -> None:
        if self._conn is None:
            return
        self._conn.settimeout(timeout)
        try:
            data = self._conn.recv(4096)
        except (BlockingIOError, TimeoutError):
            return
        except OSError:
            data = b""
        if not data:
            # The server went away before the exit line: its children die with it
            # (PR_SET_PDEATHSIG), and this one's exit code is lost.
            self.returncode = -signal.SIGKILL
            self.close()
            return
        self._buffer += data
        if b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
            reply = wire.parse_reply(line)
            if reply.exit_code is not None:
                self.returncode = reply.exit_code
                self.cpu_seconds = reply.cpu_seconds
                self.close()


def spawn(
    path: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> ForkedProcess:
    """`argv` (`sys.executable -m MODULE ...`) started by the server at `path`. Streams left
    None are /dev/null, as `subprocess.DEVNULL` would be."""
    null = os.open(os.devnull, os.O_RDWR)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(CONNECT_TIMEOUT)
        conn.connect(path)
        data = wire.request(argv, env, cwd or os.getcwd())
        fds = [null if fd is None else fd for fd in (stdin, stdout, stderr)]
        try:
            sent = socket.send_fds(conn, [data], fds)
            if sent < len(data):
                conn.sendall(data[sent:])
        except BrokenPipeError:
            pass  # it answered before reading everything: a refusal, read next
        line = _line(conn)
        reply = wire.parse_reply(line)
    except (OSError, wire.WireError) as exc:
        conn.close()
        raise ZygoteUnavailable(
            f"the fork server at {path} did not start {argv[2:3]}: {exc}"
        ) from None
    finally:
        os.close(null)
    if reply.pid is None:
        conn.close()
        raise ZygoteUnavailable(f"the fork server refused: {reply.refused}")
    return ForkedProcess(conn, reply.pid, argv)


def _line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("the fork server closed the connection")
        data += chunk
        if len(data) > wire.LINE_LIMIT:
            raise wire.WireError("reply too long")
    line, _, rest = data.partition(b"\n")
    if rest:
        raise wire.WireError("more than one reply before the child started")
    return line


@dataclass
class Zygote:
    path: str  # its socket
    pid: int
    # Once it has stopped: its own (the preload, the serving) and that of every child it
    # reaped, as the kernel counts a process it waited for.
    cpu_seconds: float = 0.0


@contextlib.contextmanager
def start_zygote(
    entries: Sequence[str],
    preload: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    timeout: float = START_TIMEOUT,
) -> Iterator[Zygote]:
    """A fork server for this block, which runs `python -m M` for M under `entries`; stopped
    (with every process it started) at the end. ZygoteUnavailable if it does not get ready."""
    directory = tempfile.mkdtemp(prefix="chaperone-zygote-")  # mode 0700: only us
    path = os.path.join(directory, "socket")
    argv = [sys.executable, "-m", "harness.zygote", "--socket", path]
    argv += ["--entry", ",".join(entries), "--preload", ",".join(preload)]
    try:
        with log.open("ab") as sink:
            server = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=sink,
                env=dict(env),
                start_new_session=True,
                preexec_fn=preexec_hook(),
            )
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise ZygoteUnavailable(f"cannot start the fork server: {exc}") from None
    zygote = Zygote(path, server.pid)
    try:
        _wait_ready(server, timeout, log)
        yield zygote
    finally:
        zygote.cpu_seconds = _stop(server)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_ready(server: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    assert server.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        ready = bool(selector.select(timeout)) and server.stdout.readline() == b"ready\n"
    server.stdout.close()
    if not ready:
        raise ZygoteUnavailable(f"the fork server did not get ready; see {log}")


def _stop(server: subprocess.Popen[bytes]) -> float:
    """Stops it (and so its children) and reaps it: its CPU seconds, with its children's."""
    # os.kill, not Popen.terminate: that would reap it first, without its CPU time.
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    try:
        while (reaped := reap(server.pid, STOP_GRACE)) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
    except ChildProcessError:  # reaped already: its time is lost
        return 0.0
    server.returncode, cpu_seconds = reaped
    return cpu_seconds
