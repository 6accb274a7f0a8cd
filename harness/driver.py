"""The HTTP driver: a request made as an actor goes in, an Observation comes out.

It records every byte the actor received (status, headers, body, Range position) and nothing
else: judging is the oracles' job. Tests plug an in-process transport in through `transport`
(httpx's MockTransport or ASGITransport), exactly as httpx's own tests do.

Two protections, both fail-safe:

* **Transient faults are retried, not turned into errors.** An idempotent read that hits a
  connection reset, a ReadError or a RemoteProtocolError is retried with bounded, jittered
  backoff (tenacity); `retries` counts them for the report. Only a persistent failure raises.
  State-changing requests are never retried: a flow step repeated could change what it means.
* **Responses are capped.** Bodies are streamed; past `max_body` bytes the rest is read in
  chunks that go to `overflow` (the judge), each as its own Observation with its byte range, so
  a 200 MB response costs one chunk of memory and a canary cut by a chunk edge is still found
  (the Range stitcher handles it, as for media).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from harness.errors import TargetUnreachable
from harness.models import Observation
from harness.transport import PoolTransport

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
# Slow targets are findings for the load suite, but a hung one must not hang the gate.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
TRANSIENT = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.PoolTimeout)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_ATTEMPTS = 4
MAX_BODY = 16 << 20  # bytes held whole; the rest of a larger body is judged chunk by chunk
CHUNK = 1 << 20

Overflow = Callable[[Observation], None]


class Driver:
    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 8,
        max_body: int = MAX_BODY,
        retry_wait: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # httpcore scans every pooled connection on each request (a readability syscall
        # each): a small pool keeps that cheap, and a target on 2 cores gains nothing from
        # more requests in flight than this.
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport or PoolTransport(limits),
            timeout=DEFAULT_TIMEOUT,
            follow_redirects=False,
        )
        # Requests in flight, held to the pool's size: past it they would wait in httpcore's
        # queue, which it rescans whole (every waiting request against every connection) each
        # time a connection frees up. Waiting here is one FIFO handoff.
        self._slots = asyncio.Semaphore(max_connections)
        self.max_body = max_body
        self.retry_wait = retry_wait
        self.retries = 0  # transient faults survived, for the report
        self.overflow: Overflow | None = None  # where chunks past max_body go

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
        content: bytes | None = None,
        retry: bool | None = None,
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
            content=content,
            extensions={"timeout": DEFAULT_TIMEOUT.as_dict()},
        )
        retryable = method.upper() in IDEMPOTENT if retry is None else retry
        attempts = RETRY_ATTEMPTS if retryable else 1
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_random_exponential(multiplier=self.retry_wait, max=2.0),
                retry=retry_if_exception_type(TRANSIENT),
                reraise=False,
            ):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                    return await self._send(actor, step, endpoint, request)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise _unreachable(self.base_url, method, url, cause, attempts) from cause
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, method, url, exc, attempts) from exc
        raise AssertionError("unreachable: tenacity either returned or raised")

    async def _send(
        self, actor: str, step: str, endpoint: str, request: httpx.Request
    ) -> Observation:
        async with self._slots:
            started = time.monotonic()
            response = await self._client.send(request, stream=True)
            try:
                body, overflowed = await self._read_capped(actor, step, endpoint, response, started)
            finally:
                await response.aclose()
                self._client.cookies.clear()
        obs = observation_from(actor, step, endpoint, response, time.monotonic() - started, body)
        return _as_part(obs, 0) if overflowed else obs

    async def _read_capped(
        self,
        actor: str,
        step: str,
        endpoint: str,
        response: httpx.Response,
        started: float,
    ) -> tuple[bytes, bool]:
        kept = bytearray()
        offset = 0
        overflowed = False
        async for chunk in response.aiter_bytes(CHUNK):
            if offset < self.max_body:
                kept += chunk
            elif self.overflow is None:
                overflowed = True  # nobody to judge the rest: it is dropped, never kept
            else:
                overflowed = True
                piece = observation_from(
                    actor, step, endpoint, response, time.monotonic() - started, chunk
                )
                # A chunk is judged like a Range part: same URL, its own byte range.
                self.overflow(_as_part(piece, offset))
            offset += len(chunk)
        return bytes(kept), overflowed

    async def aclose(self) -> None:
        await self._client.aclose()


def _as_part(obs: Observation, offset: int) -> Observation:
    return replace(obs, byte_range=(offset, offset + len(obs.body) - 1))


def _unreachable(
    base_url: str, method: str, url: str, cause: BaseException | None, attempts: int
) -> TargetUnreachable:
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    name = type(cause).__name__ if cause is not None else "no answer"
    return TargetUnreachable(
        f"{base_url} did not answer {method} {url.split('?', 1)[0]} ({name}{tried})",
        "check that the target is running and --target is right",
    )


def _sent(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        return b""


def observation_from(
    actor: str,
    step: str,
    endpoint: str,
    response: httpx.Response,
    elapsed: float,
    body: bytes | None = None,
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
        body=response.content if body is None else body,
        time=time.time(),
        elapsed=elapsed,
        content_type=response.headers.get("content-type", ""),
        byte_range=byte_range,
        sent_body=_sent(request),
        sent_content_type=request.headers.get("content-type", ""),
    )
