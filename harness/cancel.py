"""Cancellation as a value: scopes that know whether and why their work must stop.

    run scope ──── the user's Ctrl-C (interrupt), a target gone (lost target) ───┐
      ├── suite scope ── its own deadline (timeout): that suite only            │ cancels
      └── suite scope                                                          ◄┘ every child

The engine gives each suite a child of the run's scope (`RunContext.cancel`). Work checks its
scope where it waits (`harness.aio.LoopThread.stream`, the load supervisor, the stateful
explorer, the fuzz runner) and stops with `Cancelled(reason)`; threads a suite starts poll
`is_set()`. So a timeout is a `Cancelled(timeout)` from the moment the deadline passes, and
nobody has to guess afterwards whether an exception was a Ctrl-C or a deadline.

`KeyboardInterrupt` is the user's Ctrl-C and nothing else. `interrupts()` is the one place
it becomes `Cancelled(interrupt)` (the schemathesis engine keeps a stop event and a reason the
same way; trio and anyio raise one Cancelled from a scope that knows why).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from harness.errors import Cancelled, CancelReason

__all__ = ["CancelReason", "CancelScope", "Cancelled", "interrupts"]


@dataclass(frozen=True, slots=True)
class _Why:
    reason: CancelReason
    problem: str | None
    fix: str | None


class CancelScope:
    """One piece of work's stop signal and its reason. Thread-safe; the first reason wins (a
    suite that timed out stays timed out when a Ctrl-C follows)."""

    def __init__(self, parent: CancelScope | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._why: _Why | None = None
        self._children: weakref.WeakSet[CancelScope] = weakref.WeakSet()
        if parent is not None:
            parent._adopt(self)

    def child(self) -> CancelScope:
        """A scope cancelled with this one (and on its own, without touching this one)."""
        return CancelScope(self)

    def cancel(
        self, reason: CancelReason, problem: str | None = None, fix: str | None = None
    ) -> None:
        self._set(_Why(reason, problem, fix))

    @property
    def reason(self) -> CancelReason | None:
        why = self._why
        return why.reason if why is not None else None

    def is_set(self) -> bool:
        """Whether the work must stop (named like threading.Event's, which threads poll)."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def error(self) -> Cancelled | None:
        """A fresh `Cancelled` for this scope's reason (None while not cancelled)."""
        why = self._why
        return Cancelled(why.reason, why.problem, why.fix) if why is not None else None

    def raise_if_cancelled(self) -> None:
        error = self.error()
        if error is not None:
            raise error

    def _adopt(self, child: CancelScope) -> None:
        with self._lock:
            self._children.add(child)
            why = self._why
        if why is not None:
            child._set(why)

    def _set(self, why: _Why) -> None:
        with self._lock:
            if self._why is None:
                self._why = why
            children = list(self._children)
        self._event.set()
        for child in children:
            child._set(why)


@contextlib.contextmanager
def interrupts(scope: CancelScope | None = None) -> Iterator[None]:
    """A Ctrl-C (KeyboardInterrupt) inside the block cancels `scope`, and with it every scope
    under it, and leaves the block as `Cancelled(interrupt)`."""
    try:
        yield
    except KeyboardInterrupt:
        if scope is not None:
            scope.cancel(CancelReason.INTERRUPT)
        raise Cancelled(CancelReason.INTERRUPT) from None
