"""Stage changes: which rollout percentage the controller lets a release manager set.

The stages are the pinned policy's, as carried by the verdict that enabled the live artefact
(`rollout_stages`). Lowering the rollout reaches fewer people and is always allowed; raising
goes one stage at a time, and only after the current stage stayed live for its watch_seconds.
"""

from __future__ import annotations

import json
from datetime import datetime

from flags.policy import RolloutStage
from harness.errors import GateRefused

Stages = list[tuple[int, int]]  # (percent, watch_seconds), in the policy's order


def stages_text(stages: list[RolloutStage]) -> str:
    return json.dumps([[stage.percent, stage.watch_seconds] for stage in stages])


def parse_stages(text: str | None) -> Stages:
    return [(int(percent), int(seconds)) for percent, seconds in json.loads(text or "[]")]


def check_stage(
    stages: Stages, current: int, since: datetime | None, percent: int, now: datetime
) -> None:
    """Refuses a change from `current` to `percent` the pinned stages do not allow."""
    if not 1 <= percent <= 100:
        raise GateRefused(f"rollout {percent}% is not between 1 and 100", "")
    if not stages:
        return
    percents = [stage for stage, _ in stages]
    if percent not in percents:
        raise GateRefused(
            f"{percent}% is not a stage of the pinned policy ({', '.join(map(str, percents))})",
            "pick one of the policy's rollout_stages",
        )
    if percent <= current:
        return
    reached = [index for index, stage in enumerate(percents) if stage <= current]
    following = reached[-1] + 1 if reached else 0
    if percents[following] != percent:
        raise GateRefused(
            f"raise one stage at a time: from {current}% the next stage is {percents[following]}%",
            "raise to the next stage first",
        )
    if reached:
        needed = stages[reached[-1]][1]
        waited = (now - since).total_seconds() if since is not None else 0.0
        if waited < needed:
            raise GateRefused(
                f"stage {current}% has been live {waited:.0f}s of its {needed}s watch",
                "wait until the stage's watch_seconds have passed",
            )
