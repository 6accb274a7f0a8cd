from __future__ import annotations

import asyncio

import httpx
import pytest

from harness.driver import Driver
from harness.errors import TargetUnreachable


def test_cookies_from_one_response_never_ride_on_the_next_request() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"}, json={})

    async def go() -> None:
        driver = Driver("http://clinic.test", transport=httpx.MockTransport(handler))
        await driver.request("alice", "s", "POST", "/api/login", "POST /api/login")
        await driver.request("bob", "s", "GET", "/profile", "GET /profile")
        await driver.aclose()

    asyncio.run(go())
    assert seen == [None, None]


def test_range_response_records_its_byte_range() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, headers={"content-range": "bytes 10-19/100"}, content=b"x" * 10)

    async def go() -> tuple[int, int] | None:
        driver = Driver("http://clinic.test", transport=httpx.MockTransport(handler))
        obs = await driver.request(
            "a", "s", "GET", "/m", "GET /m", headers={"Range": "bytes=10-19"}
        )
        await driver.aclose()
        return obs.byte_range

    assert asyncio.run(go()) == (10, 19)


def test_unreachable_target_is_a_clear_infrastructure_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def go() -> None:
        driver = Driver("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
        try:
            await driver.request("a", "s", "GET", "/healthz", "GET /healthz")
        finally:
            await driver.aclose()

    with pytest.raises(TargetUnreachable, match="did not answer"):
        asyncio.run(go())


def _flaky(failures: int) -> tuple[httpx.MockTransport, list[str]]:
    """Raises ReadError (the 16-patient run's transient fault) `failures` times, then answers."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) <= failures:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler), calls


async def _send(transport: httpx.MockTransport, method: str) -> tuple[int, int]:
    """(status, retries) of one request through a fresh driver."""
    driver = Driver("http://clinic.test", transport=transport, retry_wait=0.001)
    try:
        obs = await driver.request("a", "s", method, "/x", f"{method} /x")
        return obs.status, driver.retries
    finally:
        await driver.aclose()


def test_a_transient_read_error_on_a_read_is_retried_and_counted() -> None:
    transport, calls = _flaky(2)
    assert asyncio.run(_send(transport, "GET")) == (200, 2)
    assert calls == ["GET"] * 3


def test_a_persistent_read_error_is_unreachable_and_a_state_change_is_never_repeated() -> None:
    with pytest.raises(TargetUnreachable, match=r"ReadError after 4 attempts"):
        asyncio.run(_send(_flaky(100)[0], "GET"))
    transport, calls = _flaky(1)
    with pytest.raises(TargetUnreachable, match="ReadError"):
        asyncio.run(_send(transport, "POST"))
    assert calls == ["POST"]  # a switch sent twice could mean something else
