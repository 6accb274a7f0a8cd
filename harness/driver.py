"""The HTTP driver: a request made as an actor goes in, an Observation comes out.

It records every byte the actor received (status, headers, body, Range position) and nothing
else: judging is the oracles' job. Tests plug an in-process transport in through `transport`
(httpx's MockTransport or ASGITransport), exactly as httpx's own tests do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from harness.errors import TargetUnreachable
from harness.models import Observation

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
# Slow targets are findings for the load suite, but a hung one must not hang the gate.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Driver:
    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=DEFAULT_TIMEOUT,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def request(
        self,
        actor: str,
        step: str,
        method: str,
        url: str,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
    ) -> Observation:
        # Built by hand, not with client.request: the client's cookie jar would otherwise
        # carry the last login's session cookie into every request, and the harness would
        # act as someone it did not mean to be. Credentials come only from `headers`.
        request = httpx.Request(
            method,
            self.base_url + url,
            headers=dict(headers or {}),
            json=json,
            data=data,
            extensions={"timeout": DEFAULT_TIMEOUT.as_dict()},
        )
        started = time.monotonic()
        try:
            response = await self._client.send(request)
            self._client.cookies.clear()
        except httpx.TransportError as exc:
            raise TargetUnreachable(
                f"{self.base_url} did not answer {method} {url} ({type(exc).__name__})",
                "check that the target is running and --target is right",
            ) from exc
        return observation_from(actor, step, endpoint, response, time.monotonic() - started)

    async def aclose(self) -> None:
        await self._client.aclose()


def observation_from(
    actor: str, step: str, endpoint: str, response: httpx.Response, elapsed: float
) -> Observation:
    byte_range = None
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    if response.status_code == 206 and match:
        byte_range = (int(match.group(1)), int(match.group(2)))
    request = response.request
    path = request.url.raw_path.decode("ascii", "replace")
    return Observation(
        actor=actor,
        step=step,
        method=request.method,
        url=path,
        endpoint=endpoint,
        status=response.status_code,
        headers=tuple(response.headers.multi_items()),
        body=response.content,
        time=time.time(),
        elapsed=elapsed,
        content_type=response.headers.get("content-type", ""),
        byte_range=byte_range,
    )
