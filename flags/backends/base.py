"""What every flag backend offers, and the values it hands back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FlagState:
    """A flag in one environment. `rollout` is the share of users it reaches when enabled."""

    flag: str
    env: str
    enabled: bool
    rollout: int
    exists: bool = True


@dataclass(frozen=True, slots=True)
class BackendEvent:
    """One change recorded by the backend's own store (not Chaperone's audit log)."""

    at: datetime | None
    action: str
    flag: str
    env: str | None
    actor: str | None
    detail: str = ""


class FlagBackend(Protocol):
    name: str

    def status(self, flag: str, env: str) -> FlagState: ...

    def ensure_flag(self, flag: str) -> None: ...

    def enable(self, flag: str, env: str, rollout: int = 100) -> FlagState: ...

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState: ...

    def disable(self, flag: str, env: str) -> FlagState: ...

    def history(self, flag: str) -> list[BackendEvent]: ...
