"""A fake flag backend, a scripted probe and a fake clock for the watch decision logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flags.backends.base import AuditHead, BackendEvent, FlagState
from flags.watch import ProbeResult
from harness.errors import InfrastructureError
from harness.models import Finding, Severity, Surface, SurfaceKind


@dataclass
class FakeClock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeBackend:
    """Records every call in `log` (shared with the probe, so order can be asserted)."""

    log: list[str]
    enabled: bool = True
    rollout: int = 100
    reachable: bool = True
    disable_fails: bool | int = False  # True: always; a number: that many times, then works
    events: list[BackendEvent] = field(default_factory=list)
    name: str = "fake"
    live: str | None = "feed" * 16
    revoked_builds: set[str] = field(default_factory=set)
    heads: dict[str, AuditHead] = field(default_factory=dict)
    pinned: str | None = None

    def _check(self) -> None:
        if not self.reachable:
            raise InfrastructureError("Unleash at http://127.0.0.1:1 is unreachable", "start it")

    def status(self, flag: str, env: str) -> FlagState:
        self._check()
        return FlagState(flag, env, self.enabled, self.rollout)

    def ensure_flag(self, flag: str) -> None:
        self._check()

    def enable(
        self, flag: str, env: str, rollout: int = 100, build_digest: str | None = None
    ) -> FlagState:
        self._check()
        self.enabled, self.rollout = True, rollout
        self.live = build_digest or self.live
        return self.status(flag, env)

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState:
        self._check()
        self.log.append(f"set-rollout {percent}")
        self.rollout = percent
        return self.status(flag, env)

    def disable(self, flag: str, env: str) -> FlagState:
        self.log.append("disable")
        self._check()
        if self.disable_fails is True or (
            self.disable_fails is not False and self.disable_fails > 0
        ):
            if self.disable_fails is not True:
                self.disable_fails -= 1
            raise InfrastructureError("Unleash answered 503", "check the Unleash server log")
        self.enabled = False
        return self.status(flag, env)

    def history(self, flag: str) -> list[BackendEvent]:
        return list(self.events)

    def pin(self, flag: str) -> str | None:
        return self.pinned

    def set_pin(self, flag: str, digest: str, environments: object) -> None:
        self.pinned = digest

    def revoked(self, flag: str) -> frozenset[str]:
        return frozenset(self.revoked_builds)

    def revoke(self, flag: str, build_digest: str) -> None:
        self._check()
        self.log.append(f"revoke {build_digest[:4]}")
        self.revoked_builds.add(build_digest)

    def live_build(self, flag: str, env: str) -> str | None:
        return self.live

    def audit_heads(self, flag: str) -> dict[str, AuditHead]:
        return dict(self.heads)

    def set_audit_head(self, flag: str, head: AuditHead) -> None:
        self.heads[head.log] = head


Step = ProbeResult | BaseException


@dataclass
class ScriptedProbe:
    """Round n returns script[n] (or raises it); rounds not in the script are clean."""

    log: list[str]
    script: dict[int, Step] = field(default_factory=dict)
    default: Callable[[int], ProbeResult] = lambda _n: ProbeResult((), switched=2, refused=1)

    def __call__(self, round_no: int) -> ProbeResult:
        self.log.append(f"probe {round_no}")
        step = self.script.get(round_no)
        if isinstance(step, BaseException):
            raise step
        return step if step is not None else self.default(round_no)


def leak(observer: str = "p2", owner: str = "p0", at: float = 1_000.0) -> Finding:
    return Finding(
        check="canary-leak",
        kind="canary-leak",
        severity=Severity.CRITICAL,
        message=f"{observer} received data of patient {owner} (patient name) in json:GET /x",
        observer=observer,
        surface=Surface(SurfaceKind.JSON, "GET /api/me/recordings"),
        step="probe",
        time=at,
        owner=owner,
        evidence=f"canary of patient {owner}",
        extra=(("label", "patient name"),),
    )


def server_error(at: float = 1_000.0) -> Finding:
    return Finding(
        check="server-error",
        kind="server-error",
        severity=Severity.HIGH,
        message="GET /api/me answered 500 to p1",
        observer="p1",
        surface=Surface(SurfaceKind.ERROR, "GET /api/me"),
        step="probe",
        time=at,
    )


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
