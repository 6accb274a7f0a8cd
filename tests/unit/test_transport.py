"""The harness's HTTP transport: httpx's, over streams that answer the pool's "has the server
closed this connection?" with one poll. Proven against a real socket server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from harness import transport
from harness.driver import Driver
from harness.transport import PoolTransport, readable

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@asynccontextmanager
async def server(close_after_reply: bool) -> AsyncIterator[tuple[str, list[int]]]:
    """A keep-alive HTTP server on 127.0.0.1 that answers every request with 200 "ok" and,
    when `close_after_reply`, then closes the connection without saying so (no
    `Connection: close`), as a server whose idle timeout ran out does."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(OK)
                await writer.drain()
                if close_after_reply:
                    await asyncio.sleep(0.05)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        listening.close()
        await listening.wait_closed()


def client(base: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    return httpx.AsyncClient(base_url=base, transport=PoolTransport(limits))


def test_a_connection_the_server_closed_is_not_reused() -> None:
    """The second request must not go out on the connection the server closed after the
    first: the pool asks the stream `is_readable`, sees the close, and opens a new one.
    (Answering False there fails this test with 'Server disconnected'.)"""

    async def main() -> None:
        async with server(close_after_reply=True) as (base, connections), client(base) as http:
            assert (await http.get("/a")).text == "ok"
            await asyncio.sleep(0.3)  # the server has closed the idle connection by now
            assert (await http.get("/b")).text == "ok"
            assert len(connections) == 2

    asyncio.run(main())


def test_a_live_connection_is_reused() -> None:
    async def main() -> None:
        async with server(close_after_reply=False) as (base, connections), client(base) as http:
            for path in ("/a", "/b", "/c"):
                assert (await http.get(path)).status_code == 200
            assert len(connections) == 1

    asyncio.run(main())


def test_readable_sees_data_and_a_close() -> None:
    mine, peer = socket.socketpair()
    with mine, peer:
        assert not readable(mine)
        peer.sendall(b"x")
        assert readable(mine)
        mine.recv(1)
        assert not readable(mine)
        peer.close()
        assert readable(mine)  # the b"" of a closed connection is waiting
    assert readable(mine)  # a closed socket (fileno -1) counts as gone
    assert readable(None)


def test_the_driver_really_sends_through_these_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx gives no way to pass a network backend, so PoolTransport replaces the pool httpx
    built (`_pool`). If httpx stopped sending through `_pool`, no QuickStream would be made."""
    made: list[object] = []
    original: Callable[..., None] = transport.QuickStream.__init__

    def counting(self: transport.QuickStream, inner: object) -> None:
        made.append(inner)
        original(self, inner)

    monkeypatch.setattr(transport.QuickStream, "__init__", counting)

    async def main() -> None:
        async with server(close_after_reply=False) as (base, _):
            driver = Driver(base)
            obs = await driver.request("p0", "unit/get", "GET", "/x", "GET /x")
            await driver.aclose()
            assert (obs.status, obs.body) == (200, b"ok")

    asyncio.run(main())
    assert len(made) == 1
