"""One asyncio loop on its own OS thread, for the real calls of a Locust process.

Locust users are gevent greenlets; the headless callers (harness.rtc_caller, aiortc) are
asyncio. The loop runs on a real OS thread (Locust's gevent turns `threading.Thread` into a
greenlet, which would stall every user while aiortc encodes), and a greenlet waits for a
coroutine by polling a plain flag with its own `sleep` (gevent's), never by a lock: gevent's
patched locks are not meant to be released from another OS thread. Nothing here imports Locust
or gevent, so the pytest process tests it with `time.sleep` and `threading`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import selectors
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import InfrastructureError

__all__ = ["CLOSE_BOUND", "CallLoop", "StartThread"]

T = TypeVar("T")
_POLL = 0.02
_CLOSE_SECONDS = 8.0  # a hang-up's own bound is 5 s (load.calls)
_CLOSE_LATE = 2.0  # after the drain: the cancelled tasks' 1 s, then the loop and thread ending
# The longest `CallLoop.close()` takes; the harness allows it, per loop, in a run's deadline.
CLOSE_BOUND = _CLOSE_SECONDS + _CLOSE_LATE
# Starts `fn()` on a new OS thread (the locustfile passes gevent's original start_new_thread).
StartThread = Callable[[Callable[[], None]], object]


class _Inline(concurrent.futures.ThreadPoolExecutor):
    """Runs `run_in_executor` work (aioice's getaddrinfo of this host's addresses) on the loop's
    own thread. A thread pool would start gevent's greenlet "threads" from this OS thread,
    which never run, and the interpreter's exit would wait for them forever."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass
class _Outcome:
    done: bool = False
    value: Any = None
    error: BaseException | None = None


class CallLoop:
    """`run(coro)` runs `coro` on the loop's thread and returns its value in the caller's."""

    def __init__(
        self,
        start_thread: StartThread,
        sleep: Callable[[float], None] = time.sleep,
        selector: Callable[[], selectors.BaseSelector] | None = None,
    ) -> None:
        self._sleep = sleep
        made = selector() if selector is not None else None
        self.loop = (
            asyncio.SelectorEventLoop(made) if made is not None else asyncio.new_event_loop()
        )
        self.loop.set_default_executor(_Inline())
        self._started = _Outcome()
        self._ended = _Outcome()
        start_thread(self._serve)
        self._wait(self._started, 10.0, "start the real calls' event loop")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(lambda: setattr(self._started, "done", True))
        try:
            self.loop.run_forever()
        finally:
            self._ended.done = True

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """`coro`'s value, or its exception raised here; InfrastructureError past `timeout`."""
        outcome = _Outcome()

        async def wrapped() -> None:
            try:
                outcome.value = await asyncio.wait_for(coro, timeout)
            except BaseException as exc:  # handed to the waiting greenlet, raised there
                outcome.error = exc
            finally:
                outcome.done = True

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(wrapped()))
        # The coroutine's own timeout ends it first; this one only guards a stuck loop.
        self._wait(outcome, timeout + 5.0, what)
        if isinstance(outcome.error, TimeoutError):
            raise InfrastructureError(
                f"a real call did not {what} within {timeout:.0f} s",
                "the machine may be overloaded: run fewer calls (--calls)",
            )
        if outcome.error is not None:
            raise outcome.error
        value: T = outcome.value
        return value

    def submit(self, coro: Coroutine[Any, Any, Any], timeout: float) -> None:
        """Run `coro` on the loop without waiting for it (a user being stopped must not
        block on it); whatever it raises is dropped."""

        async def wrapped() -> None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(coro, timeout)

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(wrapped()))

    def _wait(self, outcome: _Outcome, timeout: float, what: str) -> None:
        ends = time.monotonic() + timeout
        while not outcome.done:
            if time.monotonic() > ends:
                raise InfrastructureError(
                    f"the real calls' event loop did not {what} within {timeout:.0f} s",
                    "the machine may be overloaded: run fewer calls (--calls)",
                )
            self._sleep(_POLL)

    def close(self, timeout: float = _CLOSE_SECONDS) -> None:
        """Let what the loop still runs finish (a stopped user's hang-up, a recording being
        judged), for up to `timeout`, then cancel the rest, stop the loop and wait for its
        thread to end. A Locust process that exited with peers, codecs and decoders still at
        work on this thread was once killed by a native library's abort at interpreter exit
        (exit code -6, after "Shutting down (exit code 0)"): a load suite that errored."""
        if not self.loop.is_running():
            return

        async def drain() -> None:
            mine = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not mine]
            if pending:
                _, late = await asyncio.wait(pending, timeout=timeout)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late, timeout=1.0)
            self.loop.stop()

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(drain()))
        ends = time.monotonic() + timeout + _CLOSE_LATE
        while not self._ended.done and time.monotonic() < ends:
            self._sleep(_POLL)
