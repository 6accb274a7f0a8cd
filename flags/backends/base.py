"""What every flag backend offers, and the values it hands back.

Besides the flag itself a backend keeps what makes a flag decision trustworthy, next to the flag
where the enabler cannot choose it: the pinned policy digest, the revoked builds, the build that
is live in each environment, and the head of each audit log's hash chain (so a deleted or
truncated log is detected)."""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last audit line about a flag: its log, its number and its hash. `sha256` may be a
    prefix (Unleash tag values hold 50 characters); a line matches if its hash starts with it."""

    log: str
    seq: int
    sha256: str


class FlagBackend(Protocol):
    name: str

    def status(self, flag: str, env: str) -> FlagState: ...

    def ensure_flag(self, flag: str) -> None: ...

    def enable(
        self, flag: str, env: str, rollout: int = 100, build_digest: str | None = None
    ) -> FlagState: ...

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState: ...

    def disable(self, flag: str, env: str) -> FlagState: ...

    def history(self, flag: str) -> list[BackendEvent]: ...

    # -- trust records ------------------------------------------------------------------------

    def pin(self, flag: str) -> str | None:
        """The pinned policy digest (sha256 hex), or None."""
        ...

    def set_pin(self, flag: str, digest: str, environments: Sequence[str]) -> None: ...

    def revoked(self, flag: str) -> frozenset[str]:
        """sha256 hex digests of the revoked build ids."""
        ...

    def revoke(self, flag: str, build_digest: str) -> None: ...

    def live_build(self, flag: str, env: str) -> str | None:
        """Digest of the build last enabled in `env`, if the backend knows it."""
        ...

    def audit_heads(self, flag: str) -> dict[str, AuditHead]:
        """The chain head of each audit log that recorded something about `flag`."""
        ...

    def set_audit_head(self, flag: str, head: AuditHead) -> None: ...
