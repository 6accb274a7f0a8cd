"""Which of a profile's reads the access suite repeats as other users, and, for those it does
not, why: `chaperone profile check` lists them, so a read is never dropped from the access
matrix without the profile's author seeing it."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from harness.profile.model import ReadSpec, TargetProfile
from harness.profile.template import route_of

__all__ = ["ReplayPlan", "replay_plan"]


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    route: str
    replayed: bool
    why: str


def replay_plan(profile: TargetProfile) -> list[ReplayPlan]:
    """One row per route of each read the profile lists (a chain's every step)."""
    rows: dict[str, ReplayPlan] = {}
    for read in profile.reads:
        for step in read.steps:
            route = step.route or route_of(step.method, step.path)
            rows.setdefault(route, _row(profile, read, route))
    return list(rows.values())


def _row(profile: TargetProfile, read: ReadSpec, route: str) -> ReplayPlan:
    if read.replay is False:
        return ReplayPlan(route, False, "`replay: false` in the profile")
    unsafe = [p for p in profile.unsafe if fnmatch.fnmatchcase(route, p)]
    how = (
        "a write repeated as every other actor class with its owner's values"
        if read.replay == "as-others"
        else "repeated as other users and anonymously"
    )
    if unsafe:
        # `unsafe` only stops automatic sending (fuzz, discovery, crawl, variants)
        how += f" (listed, so replayed although `unsafe` matches {unsafe[0]!r})"
    return ReplayPlan(route, True, how)
