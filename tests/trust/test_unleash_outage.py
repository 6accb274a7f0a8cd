"""A short Unleash outage, for real: `watch` against a real Unleash 8 (on a throwaway
PostgreSQL) through a TCP proxy on loopback that goes away for four seconds mid-watch."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flags.backends.unleash import UnleashBackend
from flags.watch import RoundDone, WatchFinished, WatchPlan, watch
from tests.services.postgres import postgres
from tests.services.unleash import UnleashServer, unleash_server
from tests.watch.fakes import ScriptedProbe

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLAG, ENV = "video-switch", "development"


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


class Proxy:
    """Forwards 127.0.0.1:port to the upstream; `down()` closes the listener and every open
    connection (refused, like a restarting Unleash), `up()` listens on the same port again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port, self._listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); a bare close() from another
            # thread leaves the kernel socket listening.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_short_unleash_outage_of_4s_against_real_unleash_keeps_the_watch_guarding(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    host, port = unleash.url.split("//", 1)[1].rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    backend = UnleashBackend(f"http://127.0.0.1:{proxy.port}", unleash.admin_token, timeout=2.0)
    backend.ensure_flag(FLAG)
    backend.enable(FLAG, ENV, 100)
    plan = WatchPlan(FLAG, ENV, 0.5, tmp_path / "audit.jsonl", "unleash", rounds=14)
    log: list[str] = []
    outage: list[float] = []

    def probe_then_cut(round_no: int):
        if round_no == 3:  # the backend goes away for four seconds, from this round on
            proxy.down()
            outage.append(time.monotonic())
            threading.Timer(4.0, proxy.up).start()
        return ScriptedProbe(log)(round_no)

    try:
        events = list(watch(plan, probe_then_cut, backend))
        assert events[-1] == WatchFinished("clean", 14, 100), events[-1]
        assert [e.round for e in events if isinstance(e, RoundDone)] == list(range(1, 15))
        assert outage and backend.status(FLAG, ENV).enabled  # guarded through, still on
    finally:
        proxy.down()
        backend.close()
