"""A preloading fork server: `python -m MODULE ...` without paying for the imports each time.

    python -m harness.zygote --socket PATH --entry chaperone --preload chaperone.run_cmd,...

A selftest starts some fifty `chaperone run`s, each of which starts a clinic, and each of those
processes spent about a second of CPU importing what the one before had already imported. This
server imports the modules once, then forks a child per request (gunicorn's preload; the
`forkserver` of multiprocessing). The child becomes what `python -m MODULE ARGS` would have
been: its own session, exactly the environment and working directory asked for, the three file
descriptors the client passed as stdin, stdout and stderr, default signal handlers, fresh random
state (the random module reseeds at fork), then `runpy` runs the module as `__main__`, and the
interpreter exits as it would (atexit, flushed streams, the exit code).

Forking is only safe from one thread: a preload that starts a thread makes the server refuse to
start, and its clients start their processes the ordinary way (harness.zygote_client).

What it promises about lifetimes:
- a client that closes its connection (it exited, or was killed) gets its child stopped:
  SIGTERM to the child's process group, SIGKILL after `GRACE`;
- a child that asked for a child of its own (a run asking for its clinic) owns it. When the
  owner exits, its connections close, so what it owns is stopped as above; the owner's exit is
  reported once they have gone, with their CPU time added to its own;
- every child dies with the server (PR_SET_PDEATHSIG), and the server with whoever started it;
  on SIGTERM the server stops every child, then exits.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import runpy
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

from harness import zygote_wire as wire
from harness.parentdeath import die_with

GRACE = 10.0  # seconds from SIGTERM to SIGKILL for a child nobody waits for any more
READ_TIMEOUT = 5.0  # a client sends its whole request at once, right after connecting
READY = b"ready\n"


@dataclass
class _Child:
    pid: int
    conn: socket.socket | None
    owner: int | None
    status: int | None = None  # its exit code, once reaped
    cpu: float = 0.0
    owned: set[int] = field(default_factory=set)


class Server:
    def __init__(self, listener: socket.socket, entries: Sequence[str]) -> None:
        self.listener = listener
        self.entries = tuple(entries)
        self.children: dict[int, _Child] = {}
        self.kill_at: dict[int, float] = {}
        self.stopping = False
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = os.pipe()

    def serve(self) -> wire.Request | None:
        """Serves until SIGTERM and every child has gone (None). Returns a request only in a
        forked child, which then runs it."""
        for fd in (self.wakeup_r, self.wakeup_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, _ignore)  # a handler, so SIGCHLD reaches the wakeup fd
        signal.signal(signal.SIGTERM, self._stop)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ)
        while not (self.stopping and not self.children):
            if self.stopping:  # after SIGTERM: every child is stopped, then the server exits
                for child in self.children.values():
                    self._terminate(child)
            for key, _ in self.selector.select(self._timeout()):
                if key.fileobj is self.listener:
                    request = self._accept()
                    if request is not None:
                        return request  # in the child
                elif key.fileobj == self.wakeup_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wakeup_r, 4096)
                else:
                    self._client_readable(key.data)
            self._reap()
            self._kill_overdue()
        return None

    # -- requests ------------------------------------------------------------------------

    def _accept(self) -> wire.Request | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        fds: list[int] = []
        try:
            conn.settimeout(READ_TIMEOUT)
            peer_pid, peer_uid, _ = struct.unpack(
                "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            )
            if peer_uid != os.getuid():
                raise wire.WireError("another user's request")
            data, fds = _read_request(conn)
            request = wire.parse_request(data, self.entries)
            if not os.path.isdir(request.cwd):
                raise wire.WireError(f"no directory {request.cwd}")
            if self.stopping:
                raise wire.WireError("the server is stopping")
        except (OSError, wire.WireError) as exc:
            with contextlib.suppress(OSError):
                conn.sendall(wire.refused(str(exc)))
            _close(fds)
            conn.close()
            return None
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered here may be written twice
        pid = os.fork()
        if pid == 0:
            self._become(conn, fds, request)
            return request
        _close(fds)
        owner = peer_pid if peer_pid in self.children else None
        self.children[pid] = _Child(pid, conn, owner)
        if owner is not None:
            self.children[owner].owned.add(pid)
        try:
            conn.sendall(wire.started(pid))
            conn.setblocking(False)
            self.selector.register(conn, selectors.EVENT_READ, pid)
        except OSError:  # gone already: it cannot wait for this child
            self._client_gone(pid)
        return None

    def _become(self, conn: socket.socket, fds: list[int], request: wire.Request) -> None:
        """In the child: drop everything of the server's, then take on the request's session,
        streams, directory and environment."""
        try:
            os.setsid()
            die_with(os.getppid())
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            self.selector.close()
            self.listener.close()
            for child in self.children.values():
                if child.conn is not None:
                    child.conn.close()
            conn.close()
            os.close(self.wakeup_r)
            os.close(self.wakeup_w)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            _close([fd for fd in fds if fd > 2])
            os.chdir(request.cwd)
            os.environ.clear()
            os.environ.update(request.env)
        except BaseException as exc:  # a half-made child must not go on to serve
            with contextlib.suppress(OSError):
                os.write(2, f"zygote: cannot start the child: {exc}\n".encode())
            os._exit(126)

    # -- lifetimes -----------------------------------------------------------------------

    def _client_readable(self, pid: int) -> None:
        child = self.children.get(pid)
        if child is None or child.conn is None:
            return
        try:
            data = child.conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away: nobody will wait for this child
            self._client_gone(pid)

    def _client_gone(self, pid: int) -> None:
        child = self.children[pid]
        if child.conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(child.conn)
            child.conn.close()
            child.conn = None
        self._terminate(child)

    def _terminate(self, child: _Child) -> None:
        if child.status is None and child.pid not in self.kill_at:
            _signal(child.pid, signal.SIGTERM)
            self.kill_at[child.pid] = time.monotonic() + GRACE

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.get(pid)
            if child is None:
                continue
            self.kill_at.pop(pid, None)
            child.status = os.waitstatus_to_exitcode(status)
            child.cpu += usage.ru_utime + usage.ru_stime
            self._finish(child)

    def _finish(self, child: _Child) -> None:
        """Reports an exited child once everything it owned has gone too."""
        if child.status is None or child.owned:
            return
        if child.conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(child.conn)
            with contextlib.suppress(OSError):
                child.conn.setblocking(True)
                child.conn.sendall(wire.exited(child.status, child.cpu))
            child.conn.close()
        del self.children[child.pid]
        owner = self.children.get(child.owner) if child.owner is not None else None
        if owner is not None:
            owner.owned.discard(child.pid)
            owner.cpu += child.cpu
            self._finish(owner)

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        for pid, deadline in list(self.kill_at.items()):
            if deadline <= now:
                _signal(pid, signal.SIGKILL)
                del self.kill_at[pid]

    def _timeout(self) -> float | None:
        if not self.kill_at:
            return None
        return max(0.0, min(self.kill_at.values()) - time.monotonic())

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True  # only a flag: the loop may be in the middle of a dict


def _read_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 65536, wire.FD_COUNT)
    chunks = [data]
    size = len(data)
    while not chunks[-1].endswith(b"\n"):
        if not chunks[-1] or size > wire.LINE_LIMIT:
            _close(fds)
            raise wire.WireError("an incomplete request")
        chunks.append(conn.recv(65536))
        size += len(chunks[-1])
    if len(fds) != wire.FD_COUNT:
        _close(fds)
        raise wire.WireError(f"{len(fds)} file descriptors, not {wire.FD_COUNT}")
    return b"".join(chunks), fds


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _close(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """SIGCHLD's handler: the wakeup fd does the work."""


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1  # not Linux: only Python's own threads can be counted
    # (threading.active_count() misses threads a C library started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.zygote", description=__doc__)
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--entry", required=True, help="modules (and their submodules) it runs")
    parser.add_argument("--preload", default="", help="modules to import before serving")
    args = parser.parse_args(argv)
    parent = os.getppid()
    die_with(parent)
    for name in filter(None, args.preload.split(",")):
        importlib.import_module(name)
    if (threads := _threads()) != 1:
        sys.stderr.write(f"zygote: {threads} threads after the preload; forking is unsafe\n")
        return 3
    gc.freeze()  # the preloaded objects stay shared with every child, not copied on write
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(64)
    os.write(1, READY)
    request = Server(listener, args.entry.split(",")).serve()
    if request is None:
        return 0
    sys.argv = [request.module, *request.args]  # runpy puts the module's path in argv[0]
    runpy.run_module(request.module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
