"""Optional parts of the target contract, each a small protocol a suite asks for by name.

The core `harness.adapters.Target` is what every suite needs. What only some apps have (a
push channel, mail and SMS, media bodies larger than the response cap, an OpenAPI document to
discover reads from) and what only the report wants (retry counts) is a capability:

    push = ctx.capability(PUSH)          # the target typed as PushCapable, or None
    if push is not None:
        listener = await push.listen(session)

A suite never probes the adapter with getattr/hasattr (tests/unit/test_target_contract.py
scans for it). Capabilities are keyed by `Capability` objects rather than by the protocol
classes themselves because mypy refuses a Protocol where `type[T]` is expected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from harness.models import Observation

if TYPE_CHECKING:
    from harness.adapters import Session, Target
    from harness.adapters.profile import ProfileTarget
    from harness.client.discovery import Discovered
    from harness.media_call import MediaPlan
    from harness.push import PushListener
    from harness.rtc_caller import Caller
    from harness.world import Resource

C = TypeVar("C")


@runtime_checkable
class PushCapable(Protocol):
    """The app pushes messages to a logged-in user (a WebSocket)."""

    async def listen(self, session: Session) -> PushListener | None:
        """Open the user's push channel; None when the app described has none."""


@runtime_checkable
class NotifyCapable(Protocol):
    """The app sends mail and SMS, which arrive at the run's sinks."""

    async def flush_notifications(self) -> None:
        """Return once the target has sent every queued notification (if it can say)."""

    def recipients(self) -> dict[str, dict[str, str]]:
        """channel -> address -> actor id: who a notification sent to an address reached."""


@runtime_checkable
class MediaCapable(Protocol):
    """Bodies larger than the response cap (recordings, exports) are judged in parts."""

    def set_overflow(self, sink: Callable[[Observation], None] | None) -> None:
        """Where the parts of a body past the response cap go to be judged."""


@runtime_checkable
class CallsCapable(Protocol):
    """The app's calls are real WebRTC: a user's caller can join one (the profile's `media:`)."""

    def caller(self, session: Session, resource: Resource | None) -> Caller | None:
        """A caller for the call `resource` names, carrying the user's canary; None when the
        app described has no media section or the user has no canary to carry."""

    def media_plan(self) -> MediaPlan | None:
        """Which flows start a call, turn its camera on and off and stop it."""

    def recorded_in(self, obs: Observation) -> str | None:
        """The world resource (its key) whose call the recording `obs` read was made in, as the
        app's listing of it says; None when the profile or the listing does not say."""


@runtime_checkable
class DiscoveryCapable(Protocol):
    """Reads found beside the profile's own: from the app's OpenAPI document, or added (a HAR)."""

    profile_dir: Path  # where the profile's relative paths (its OpenAPI document) resolve

    def discovered(self) -> list[Discovered]:
        """The GET routes found in the document, an imported HAR or the crawl (for Locust's
        users, which never see them)."""

    def unfilled_routes(self) -> list[str]:
        """Discovered routes whose parameters no observed value could fill."""

    def add_routes(self, routes: list[str], source: str) -> None:
        """Routes found outside the profile and the document (an imported HAR), read like
        discovered ones and reported with `source`."""


@runtime_checkable
class CountsRecoveries(Protocol):
    """Transient faults the target survived, for the report."""

    @property
    def retries(self) -> int:
        """Requests repeated after a transient fault so far."""

    @property
    def relogins(self) -> int:
        """Sessions logged in again so far (expired or old)."""


@dataclass(frozen=True)
class Capability(Generic[C]):
    """The key a suite asks for one capability by (`RunContext.capability`)."""

    name: str
    protocol: type[Any]  # a runtime_checkable Protocol: C's own class

    def of(self, target: object) -> C | None:
        """`target` typed as this capability, or None when it does not have it."""
        return cast(C, target) if isinstance(target, self.protocol) else None


PUSH: Capability[PushCapable] = Capability("push", PushCapable)
NOTIFY: Capability[NotifyCapable] = Capability("mail and SMS", NotifyCapable)
MEDIA: Capability[MediaCapable] = Capability("media", MediaCapable)
CALLS: Capability[CallsCapable] = Capability("calls", CallsCapable)
DISCOVERY: Capability[DiscoveryCapable] = Capability("discovery", DiscoveryCapable)
RECOVERIES: Capability[CountsRecoveries] = Capability("recoveries", CountsRecoveries)
CAPABILITIES: tuple[Capability[Any], ...] = (PUSH, NOTIFY, MEDIA, CALLS, DISCOVERY, RECOVERIES)


if TYPE_CHECKING:
    # mypy checks that the YAML-driven target keeps the core contract and every capability.

    def _profile_target_keeps_the_contract(
        target: ProfileTarget,
    ) -> tuple[
        Target,
        PushCapable,
        NotifyCapable,
        MediaCapable,
        CallsCapable,
        DiscoveryCapable,
        CountsRecoveries,
    ]:
        return target, target, target, target, target, target, target
