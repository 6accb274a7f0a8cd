"""Flows: a named action's steps in order, each judged against its `expect` (or, for a status
in `conflict`, "not possible in this state"), captures carried from one step to the next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.client.core import ProfileClient, expects
from harness.client.protocol import Flow
from harness.client.session import Session
from harness.models import Observation
from harness.profile.steps import capture_all, is_success, prepare

__all__ = ["FlowRun", "run_flow"]


@dataclass(frozen=True, slots=True)
class FlowRun:
    """What a flow did, and when: a visibility change counts from `started` (a new relation)
    or from `done` (an ended one)."""

    observations: tuple[Observation, ...]
    ok: bool
    started: float
    done: float
    status: int = 0  # the status of the step that stopped it (0 if all went well)
    conflict: bool = False  # that status means "not possible in this state"
    missing: str = ""  # the capture a step answered without ("<route> gave no <what>")


def run_flow(
    client: ProfileClient, session: Session, name: str, scope: Mapping[str, Any], action: str
) -> Flow[FlowRun]:
    spec = client.profile.flows[name]
    conflict = frozenset(spec.conflict)
    started = client.clock()
    captures: dict[str, Any] = {}
    seen: list[Observation] = []
    for step in spec.steps:
        prep = prepare(step, {**scope, **captures})
        ok = expects(step) | conflict
        obs = yield from client.send(session, prep, action, ok=ok, retry=False)
        seen.append(obs)
        if not is_success(step, obs.status):
            stopped = obs.status in conflict
            return FlowRun(tuple(seen), False, started, client.clock(), obs.status, stopped)
        try:
            captures |= capture_all(step, obs.headers, obs.body)
        except KeyError as exc:
            missing = f"{prep.route} gave no {exc.args[0]}"
            return FlowRun(tuple(seen), False, started, client.clock(), missing=missing)
    return FlowRun(tuple(seen), True, started, client.clock())
