"""Renders flag state in Unleash's `/api/client/features` format, the bootstrap file the clinic's
UnleashClient reads (and re-reads when it changes) when no Unleash server is configured."""

from __future__ import annotations

from typing import Any

from flags.backends.base import FlagState


def flexible_rollout(flag: str, percent: int) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "constraints": [],
        "parameters": {"rollout": str(percent), "stickiness": "default", "groupId": flag},
    }


def render(states: list[FlagState]) -> dict[str, Any]:
    features = [
        {
            "name": state.flag,
            "type": "release",
            "enabled": state.enabled,
            "stale": False,
            "impressionData": False,
            "strategies": [flexible_rollout(state.flag, state.rollout)],
            "variants": [],
        }
        for state in sorted(states, key=lambda s: s.flag)
    ]
    return {"version": 1, "features": features}
