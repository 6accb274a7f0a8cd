"""The async driver: runs the profile client's flows over httpx (`harness.driver.Driver`).

It only sends. What to send, when to log in again and what a read proved is the client's
(`harness.client`); this module adds the transport, and a lock per user so that reads running
side by side log an expired user in once.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import httpx

from harness.client import Flow, ProfileClient, Relogin, Send, Session
from harness.client.protocol import Driving
from harness.driver import Driver
from harness.errors import TargetUnreachable
from harness.models import Actor, Observation

__all__ = ["HttpDriver"]

T = TypeVar("T")


class HttpDriver:
    def __init__(
        self,
        client: ProfileClient,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = client
        self.driver = Driver(base_url, transport=transport)
        self.relogins = 0  # sessions refreshed (expired, or old): the report counts them
        self._locks: dict[str, asyncio.Lock] = {}

    async def run(self, flow: Flow[T]) -> T:
        """Drive a client flow to its end; a target that does not answer is thrown into it."""
        driving = Driving(flow)
        while (pending := driving.pending) is not None:
            try:
                if isinstance(pending, Relogin):
                    answer: Any = await self._relogin(pending)
                else:
                    answer = await self.send(pending)
            except TargetUnreachable as exc:
                driving.fail(exc)
            else:
                driving.answer(answer)
        return driving.result  # type: ignore[return-value]

    async def send(self, send: Send, content: bytes | None = None) -> Observation:
        prep = send.prepared
        return await self.driver.request(
            send.actor,
            send.action,
            prep.method,
            prep.path,
            send.route,
            headers=send.headers,
            json=prep.json_body,
            data=prep.form,
            content=content,
            retry=send.retry,
        )

    async def login(self, actor: Actor) -> Session:
        session = Session(actor=actor)
        await self.run(self.client.login(session))
        return session

    async def _relogin(self, relogin: Relogin) -> bool:
        session = relogin.session
        async with self._locks.setdefault(session.actor.id, asyncio.Lock()):
            if session.generation == relogin.generation:  # nobody refreshed it while we waited
                await self.run(self.client.login(session))
                self.relogins += 1
        return True

    async def aclose(self) -> None:
        await self.driver.aclose()
