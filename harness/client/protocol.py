"""What the client asks of a driver, and how a driver answers.

The client is a set of generators in the style of httpx's `Auth.auth_flow`: each yields an
instruction and receives the answer (`response = yield request`). Two instructions exist:

* `Send`: send this request exactly as it is and answer with the Observation it produced (a
  driver that got no answer either answers status 0 or throws TargetUnreachable into the flow);
* `Relogin`: log this session in again (`ProfileClient.login`) unless someone already did
  since `generation`, and answer whether the session is logged in now. Drivers that run flows
  side by side serialise this per user; the client cannot, as it never waits.

A driver is a loop: `run_sync` below for blocking clients (Locust), an async one for httpx.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.client.session import Session
from harness.errors import TargetUnreachable
from harness.models import Observation
from harness.profile.steps import Prepared

__all__ = ["Driving", "Flow", "Instruction", "Relogin", "Send", "run_sync"]

T = TypeVar("T")

SUCCESS = frozenset(range(200, 400))


@dataclass(frozen=True, slots=True)
class Send:
    """One request, complete: the driver adds transport and nothing else."""

    prepared: Prepared
    headers: dict[str, str]  # every header, credentials included
    actor: str  # who sends it: the Observation's actor
    action: str  # login, session-check, a flow's name, a read's step label
    route: str  # what findings and coverage call it
    name: str = ""  # the statistics row (default: the route)
    about: str = ""  # whose data it reads, when not the sender's
    ok: frozenset[int] | None = field(default=None)  # success in statistics; None: any status
    retry: bool | None = None  # None: idempotent methods only

    @property
    def row(self) -> str:
        return self.name or self.route

    def succeeded(self, status: int) -> bool:
        return self.ok is None or status in self.ok


@dataclass(frozen=True, slots=True)
class Relogin:
    session: Session
    generation: int


Instruction = Send | Relogin
# Yields instructions, receives an Observation for a Send and a bool for a Relogin.
Flow = Generator[Instruction, Any, T]


class Driving(Generic[T]):
    """A flow being driven: `pending` is the instruction to answer next, until `done`; then
    `result` is what the flow returned. A driver's loop answers (`answer`) or, when the target
    did not answer, throws the failure into the flow (`fail`), which records it and re-raises."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.done = False
        self.result: T | None = None
        self.pending: Instruction | None = None
        self._step(lambda: next(flow))

    def answer(self, value: Any) -> None:
        self._step(lambda: self._flow.send(value))

    def fail(self, exc: TargetUnreachable) -> None:
        self._step(lambda: self._flow.throw(exc))

    def _step(self, step: Callable[[], Instruction]) -> None:
        try:
            self.pending = step()
        except StopIteration as stop:
            self.done, self.result, self.pending = True, stop.value, None


def run_sync(
    flow: Flow[T],
    send: Callable[[Send], Observation],
    relogin: Callable[[Relogin], bool],
) -> T:
    """Drive `flow` to its end with blocking callables; returns what the flow returns."""
    driving = Driving(flow)
    while (pending := driving.pending) is not None:
        try:
            answer = relogin(pending) if isinstance(pending, Relogin) else send(pending)
        except TargetUnreachable as exc:
            driving.fail(exc)
        else:
            driving.answer(answer)
    return driving.result  # type: ignore[return-value]
