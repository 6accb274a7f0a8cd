"""The leak check that runs inside every Locust process, on every response.

It judges with the harness's own `Judge` over the World the process was given, and reads lists
with the harness's own `EntityParser` (the one listing logic, built from the profile embedded in
the world), so a worker judges exactly as the harness does. Each finding is reported once; where
it goes (a file, or a message to the master) is the caller's business. This module never imports
Locust, so it is tested in the pytest process like any other.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from harness.client.listing import EntityParser
from harness.models import Finding, Observation
from harness.oracles import Judge
from harness.profile.model import TargetProfile
from harness.world import World

__all__ = ["LeakChecker", "observation_of"]

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


class LeakChecker:
    """Judges observations; `check` returns only the findings not reported before."""

    def __init__(
        self, judge: Callable[[Observation], list[Finding]], entities: EntityParser | None = None
    ) -> None:
        self._judge = judge
        self._seen: set[str] = set()
        self.entities = entities
        self.checked = 0

    @classmethod
    def for_world(cls, world: World) -> LeakChecker:
        """The checker for `world`: its ownership model, matcher and list parsing."""
        entities = EntityParser(TargetProfile.model_validate(world.profile), world)
        return cls(Judge.from_world(world, listing=entities.listing), entities)

    def check(self, observation: Observation) -> list[Finding]:
        self.checked += 1
        new = [f for f in self._judge(observation) if f.key not in self._seen]
        self._seen.update(f.key for f in new)
        return new
