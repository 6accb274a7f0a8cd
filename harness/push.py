"""Push surfaces: one WebSocket per user, kept open while scenarios run, every message judged.

The profile's `push.websocket` names the path; the connection carries the user's session
credentials (headers and cookies, as every request does). Messages are kept with their arrival
time and handed over as Observations of that user (surface `ws`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from harness.adapters import Session
from harness.models import Observation, SurfaceKind

__all__ = ["PushListener"]

# A message is pushed when its event happens, and arrives a moment later: judge it against the
# relations in force over this window before its arrival.
PUSH_LAG = 5.0


@dataclass
class PushListener:
    """One user's open socket and what it has received so far."""

    session: Session
    url: str
    route: str
    messages: list[tuple[float, bytes]] = field(default_factory=list)
    error: str = ""
    _task: asyncio.Task[None] | None = None
    _socket: ClientConnection | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.ensure_future(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def _run(self) -> None:
        try:
            async with connect(
                self.url, additional_headers=self.session.credentials(), open_timeout=10
            ) as socket:
                self._socket = socket
                self._ready.set()
                async for message in socket:
                    data = message.encode() if isinstance(message, str) else bytes(message)
                    self.messages.append((time.time(), data))
        except (OSError, WebSocketException, TimeoutError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._ready.set()

    def drain(self, step: str) -> list[Observation]:
        taken, self.messages = self.messages, []
        return [
            Observation(
                actor=self.session.actor.id,
                step=step,
                method="WS",
                url=self.route.split(" ", 1)[-1],
                endpoint=self.route,
                status=101,
                headers=(),
                body=data,
                time=at,
                elapsed=PUSH_LAG,
                surface_hint=SurfaceKind.WS,
            )
            for at, data in taken
        ]

    async def stop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
