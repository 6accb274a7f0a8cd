"""One event loop in a background thread for the whole run.

The engine and the reporters are synchronous (a generator of events), while drivers are async
(httpx). An httpx client belongs to the loop it was created on, so every coroutine of a run goes
to this one loop, and async generators are bridged back into plain iterators.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from harness.cancel import CancelScope

T = TypeVar("T")
_DONE = object()
_NOTHING = object()  # no item came within the poll


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="chaperone-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def stream(self, agen: AsyncIterator[T], cancel: CancelScope | None = None) -> Iterator[T]:
        """Iterate an async generator from synchronous code, item by item as they come.

        Once `cancel` is cancelled this raises its `Cancelled` instead of the next item, and
        instead of ending: a generator that noticed the cancellation and wound down on its own
        (with a closing event of its own) must not look like one that finished."""
        items: queue.Queue[Any] = queue.Queue()

        async def pump() -> None:
            try:
                async for item in agen:
                    items.put(item)
            except BaseException as exc:  # handed to the consuming thread
                items.put(_Raised(exc))
            finally:
                items.put(_DONE)

        future = self.submit(pump())
        try:
            while True:
                try:
                    item = items.get(timeout=0.2)
                except queue.Empty:
                    item = _NOTHING
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if item is _NOTHING:
                    continue
                if item is _DONE:
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
        finally:
            future.cancel()

    def cancel_all(self, timeout: float = 10.0) -> None:
        """Cancel every task still running (an interrupted suite's requests) and wait for them,
        so none outlives the target it talks to or logs an unretrieved exception later."""

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            try:
                self.run(shutdown(), timeout)
            except (TimeoutError, asyncio.CancelledError):
                return

    def close(self) -> None:
        self.cancel_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


async def each_bounded(
    items: Iterable[T], work: Callable[[T], Awaitable[None]], limit: int
) -> None:
    """Run `work(item)` for every item with at most `limit` at once.

    A fixed pool of workers pulls from one iterator, instead of one task per item behind a
    semaphore: thousands of pending tasks make every `asyncio.all_tasks()` scan (anyio does
    one per worker-thread call) quadratic, and hold memory for work not yet started. The
    first failure cancels the rest and is raised.
    """
    source = iter(items)

    async def worker() -> None:
        for item in source:
            await work(item)

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, limit))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
