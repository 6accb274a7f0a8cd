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
