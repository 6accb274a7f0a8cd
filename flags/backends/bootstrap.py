"""Renders flag state in Unleash's `/api/client/features` format, the bootstrap file the clinic's
UnleashClient reads (and re-reads when it changes) when no Unleash server is configured."""

from __future__ import annotations

import json
import os
from pathlib import Path
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


def write(path: Path, states: list[FlagState]) -> Path:
    """Atomic, so the clinic never reads half a file while it watches this one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(render(states), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
