"""The leak check that runs inside every Locust process, on every response.

It rebuilds the run's World from world.json, so the workers judge with exactly the ownership
model and matcher the harness uses, and appends each new finding to this process's own file.
This module is imported by the locustfile but never imports Locust itself, so it is tested in
the pytest process like any other.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit

from harness.models import Finding, Observation
from harness.oracles import Judge, Listing
from harness.world import World
from load.contract import ENV_CHECK, ENV_FINDINGS, ENV_WORLD
from load.findings_io import finding_to_json

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
# Mirrors ClinicAdapter.listing, which needs a seeded adapter; a worker only has world.json.
_LISTINGS: dict[str, Literal["recording", "appointment"]] = {
    "GET /api/me/recordings": "recording",
    "GET /api/clinician/recordings": "recording",
    "GET /api/me/appointments": "appointment",
}


def listing_for(world: World) -> Callable[[Observation], Listing | None]:
    """Which patients own the items of a list response, for the listing oracles."""
    actor_of = {sid: name for name, sid in world.server_ids.items()}
    # Several oracles ask about the same observation in a row; parse its JSON only once.
    last: list[tuple[Observation, Listing | None]] = []

    def listing(observation: Observation) -> Listing | None:
        if last and last[0][0] is observation:
            return last[0][1]
        parsed = _parse_listing(observation, actor_of)
        last[:] = [(observation, parsed)]
        return parsed

    return listing


def _parse_listing(observation: Observation, actor_of: Mapping[int, str]) -> Listing | None:
    kind = _LISTINGS.get(observation.endpoint)
    if kind is None or observation.status != 200:
        return None
    try:
        items = json.loads(observation.body)["items"]
        owners = tuple(actor_of.get(int(i["patient_id"])) for i in items)
    except (ValueError, KeyError, TypeError):
        return None
    return Listing(kind=kind, owners=owners)


def observation_of(
    *,
    actor: str,
    endpoint: str,
    method: str,
    url: str,
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    elapsed: float,
) -> Observation:
    """An Observation from what Locust's client received."""
    pairs = tuple((str(k), str(v)) for k, v in headers)
    lowered = {k.lower(): v for k, v in pairs}
    match = _CONTENT_RANGE.match(lowered.get("content-range", ""))
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Observation(
        actor=actor,
        step=f"load/{actor}/{endpoint}",
        method=method,
        url=path,
        endpoint=endpoint,
        status=status,
        headers=pairs,
        body=body,
        time=time.time(),
        elapsed=elapsed,
        content_type=lowered.get("content-type", ""),
        byte_range=(int(match.group(1)), int(match.group(2))) if status == 206 and match else None,
    )


class LeakChecker:
    """Judges observations and appends each finding not seen before to one JSON-lines file."""

    def __init__(self, judge: Callable[[Observation], list[Finding]], out: Path) -> None:
        self._judge = judge
        self._out = out
        self._seen: set[str] = set()
        self._file: IO[str] | None = None
        self.checked = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LeakChecker | None:
        """The checker the runner asked for, or None when checking is off or not configured."""
        env = os.environ if environ is None else environ
        if env.get(ENV_CHECK, "1") == "0" or ENV_WORLD not in env or ENV_FINDINGS not in env:
            return None
        world = World.load(Path(env[ENV_WORLD]))
        judge = Judge.from_world(world, listing=listing_for(world))
        out = Path(env[ENV_FINDINGS]) / f"findings-{os.getpid()}.jsonl"
        return cls(judge, out)

    def check(self, observation: Observation) -> list[Finding]:
        self.checked += 1
        new = [f for f in self._judge(observation) if f.key not in self._seen]
        for finding in new:
            self._seen.add(finding.key)
            self._write(finding)
        return new

    def _write(self, finding: Finding) -> None:
        if self._file is None:
            self._out.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._out.open("a", encoding="utf-8")
        # One line per finding, flushed at once: the harness tails these files during the run.
        self._file.write(json.dumps(finding_to_json(finding)) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
