"""httpx's own transport, with a cheaper check of pooled connections.

Before each request, httpcore asks every idle pooled connection whether its server has closed
it (`get_extra_info("is_readable")`). Through anyio, each of those questions builds the
socket's whole attribute table, a `getpeername` syscall included, before the readability poll
itself: with eight pooled connections that was about a sixth of the harness's CPU per request
(cProfile, 2,000 GETs at 8 at once). The stream below keeps its socket and answers with the poll
alone; everything else is anyio's, unchanged.
"""

from __future__ import annotations

import select
import socket
import ssl
import typing

import httpcore
import httpx


class PoolTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` over a connection pool whose streams answer `is_readable`
    cheaply. Same limits, same HTTP/1.1, no proxy (the harness talks to its target directly).
    """

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx builds `_pool` with no way to pass a network backend; replace it with the same
        # pool over ours. tests/unit/test_transport.py fails if httpx stops reading `_pool`.
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=QuickBackend(),
        )


class QuickBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return QuickStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return QuickStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class QuickStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return readable(self._socket)
        return self._inner.get_extra_info(info)


def readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once: data, or the b"" of a closed connection (a gone
    socket counts as readable, so the pool drops the connection)."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
