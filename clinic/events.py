"""The push side: call events fanned out to the WebSocket subscribers of `/ws/events`.

API routes run in worker threads and each socket lives on the server's event loop, so `publish`
hands an event to a subscriber's loop with `call_soon_threadsafe`; nothing here blocks a request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass(eq=False)
class Subscriber:
    user_id: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, user_id: int) -> Subscriber:
        """Call on the socket's own event loop."""
        subscriber = Subscriber(user_id, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, event: Event, audience: Iterable[int] | None) -> int:
        """Queue `event` for the subscribers among `audience` (None: every socket); how many."""
        users = None if audience is None else frozenset(audience)
        with self._lock:
            targets = [s for s in self._subscribers if users is None or s.user_id in users]
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.queue.put_nowait, event)
            except RuntimeError:  # the socket's loop has closed; it unsubscribes on its way out
                continue
        return len(targets)
