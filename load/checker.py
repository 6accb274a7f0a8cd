"""The leak check that runs inside every Locust process, on every response.

It judges with the harness's own `Judge` over the World the process was given, and reads lists
with the harness's own `EntityParser` (the one listing logic, built from the profile embedded in
the world), so a worker judges exactly as the harness does. Each finding is reported once; where
it goes (a file, or a message to the master) is the caller's business. This module never imports
Locust, so it is tested in the pytest process like any other.

Recordings that are real media (WebM, MP4) are decoded by the media oracle, which costs far more
than a byte scan (a Locust process runs it on another thread, `offload`, so its users go on). So
the checks have a budget (`CheckBudget`): the CPU time they take (on the thread that judges)
may be at most a share of the process's wall time since it started, plus an allowance. Past
it, a recording is judged without decoding and its read counts as lost coverage, never as
clean; `MediaTally` counts both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.client.listing import EntityParser
from harness.coverage import Coverage
from harness.models import Finding, Observation
from harness.oracles import Judge
from harness.oracles.context import OracleContext
from harness.oracles.media_code import is_container
from harness.profile.model import TargetProfile
from harness.world import World

__all__ = ["CheckBudget", "LeakChecker", "MediaTally", "observation_of"]

MEDIA_ORACLE = "media-canary"
OVER_BUDGET = "media: not decoded, past the load's leak-check budget"

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def observation_of(
    *,
    actor: str,
    step: str,
    endpoint: str,
    method: str,
    url: str,
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    elapsed: float,
    about: str = "",
) -> Observation:
    """An Observation from what a load user's client received."""
    pairs = tuple((str(k), str(v)) for k, v in headers)
    content_type = content_range = ""
    for key, value in pairs:
        lowered = key.lower()
        if lowered == "content-type":
            content_type = value
        elif lowered == "content-range":
            content_range = value
    match = _CONTENT_RANGE.match(content_range)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Observation(
        actor=actor,
        step=step,
        method=method,
        url=path,
        endpoint=endpoint,
        status=status,
        headers=pairs,
        body=body,
        time=time.time(),
        elapsed=elapsed,
        content_type=content_type,
        byte_range=(int(match.group(1)), int(match.group(2))) if status == 206 and match else None,
        about=about if about != actor else "",
    )


@dataclass
class CheckBudget:
    """The checks of one process may take `share` of its wall time since `started` in CPU
    seconds, plus `allowance` (the first recordings arrive before much time has passed)."""

    share: float = 0.5
    allowance: float = 10.0
    started: float = field(default_factory=time.monotonic)
    spent: float = 0.0

    def exhausted(self, now: float | None = None) -> bool:
        elapsed = (time.monotonic() if now is None else now) - self.started
        return self.spent > self.allowance + self.share * elapsed


@dataclass
class MediaTally:
    """Recordings the media oracle decoded in a process, and those the budget left undecoded."""

    decoded: int = 0
    skipped: int = 0
    seconds: float = 0.0  # CPU time of judging the decoded ones (the judging thread's)
    # When each real call of the process was live: [connected, hung up] in wall-clock seconds
    # (workers may be other hosts, whose monotonic clocks say nothing here).
    calls: list[list[float]] = field(default_factory=list)
    unconnected: int = 0  # calls whose connection never came up: they sent no media at all

    def absorb(self, data: Mapping[str, Any]) -> None:
        self.decoded += int(data.get("decoded", 0))
        self.skipped += int(data.get("skipped", 0))
        self.seconds += float(data.get("seconds", 0.0))
        self.calls += [[float(a), float(b)] for a, b in data.get("calls", [])]
        self.unconnected += int(data.get("unconnected", 0))

    def peak_calls(self) -> int:
        """The most calls live at one moment, over every process's calls."""
        edges = sorted([(a, 1) for a, _ in self.calls] + [(b, -1) for _, b in self.calls])
        live = peak = 0
        for _, step in edges:  # at a tie the hang-up (-1) sorts first: no false overlap
            live += step
            peak = max(peak, live)
        return peak

    def empty(self) -> bool:
        return not (self.decoded or self.skipped or self.calls or self.unconnected)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _here(judging: Callable[[], list[Finding]]) -> list[Finding]:
    return judging()


def _is_media(obs: Observation) -> bool:
    """What the media oracle would decode: a whole real container."""
    return obs.status < 300 and obs.byte_range is None and is_container(obs.body)


class LeakChecker:
    """Judges observations; `check` returns only the findings not reported before.

    With `lean` (the same judge without the media oracle) and a `budget`, a recording that
    arrives once the checks have spent their budget is judged by `lean` and its read counted
    lost in `coverage`.
    """

    def __init__(
        self,
        judge: Callable[[Observation], list[Finding]],
        entities: EntityParser | None = None,
        *,
        lean: Callable[[Observation], list[Finding]] | None = None,
        budget: CheckBudget | None = None,
        context: OracleContext | None = None,
    ) -> None:
        self._judge = judge
        # How a recording's judging is run: here, or (a Locust process) on another OS thread
        # while this one keeps serving its users and heartbeats.
        self.offload: Callable[[Callable[[], list[Finding]]], list[Finding]] = _here
        self._context = context  # the oracles' context: where they count lost coverage
        self._lean = lean
        self._seen: set[str] = set()
        self.entities = entities
        self.checked = 0
        self.budget = budget or CheckBudget()
        self.media = MediaTally()
        self.coverage: Coverage | None = None

    @classmethod
    def for_world(
        cls, world: World, entities: EntityParser | None = None, budget: CheckBudget | None = None
    ) -> LeakChecker:
        """The checker for `world`: its ownership model, matcher and list parsing; the oracles'
        lost coverage goes to the checker's `coverage`, wherever that points at the time."""
        entities = entities or EntityParser(TargetProfile.model_validate(world.profile), world)
        judge = Judge.from_world(world, listing=entities.listing)
        others = [name for name in judge.oracles if name != MEDIA_ORACLE]
        lean = Judge(judge.ctx, others) if len(others) < len(judge.oracles) else None
        return cls(judge, entities, lean=lean, budget=budget, context=judge.ctx)

    def set_coverage(self, coverage: Coverage) -> None:
        """Where lost coverage is counted from now on (a worker swaps its tally on each send)."""
        self.coverage = coverage
        if self._context is not None:
            self._context.coverage = coverage

    def check(self, observation: Observation) -> list[Finding]:
        self.checked += 1
        judge = self._judge
        media = self._lean is not None and _is_media(observation)
        if media and self.budget.exhausted():
            assert self._lean is not None
            judge, media = self._lean, False
            self.media.skipped += 1
            if self.coverage is not None:
                route = observation.endpoint or observation.url.split("?", 1)[0]
                owner = observation.about or observation.actor
                self.coverage.lost(route, observation.actor, owner, OVER_BUDGET)
        spent: list[float] = []

        def judging() -> list[Finding]:
            # CPU time of the thread that judges: a decode offloaded to another thread costs
            # the process CPU, not the users' wall time (its decoder threads are left out).
            started = time.thread_time()
            try:
                return judge(observation)
            finally:
                spent.append(time.thread_time() - started)

        found = self.offload(judging) if media else judging()
        took = sum(spent)
        self.budget.spent += took
        if media:
            self.media.decoded += 1
            self.media.seconds += took
        new = [f for f in found if f.key not in self._seen]
        self._seen.update(f.key for f in new)
        return new
