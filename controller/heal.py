"""Self-heal: every few seconds compare the flag store with what the controller approved, and
turn off anything that is on without an approval, recording it as drift with the store's own
latest event for that environment as evidence (for Unleash: its event log)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from controller import audit
from controller.decisions import Controller
from controller.store import approvals, pins
from flags.backends.base import BackendEvent

ACTOR = "controller:self-heal"


@dataclass(frozen=True)
class Drift:
    flag: str
    env: str
    evidence: BackendEvent | None


def heal_once(controller: Controller, envs: list[str]) -> list[Drift]:
    """Turns off every watched flag/environment that is on but not approved."""
    with controller.engine.connect() as conn:
        flags = {row.flag for row in conn.execute(select(pins.c.flag))}
        flags |= {row.flag for row in conn.execute(select(approvals.c.flag))}
    found: list[Drift] = []
    for flag in sorted(flags):
        for env in envs:
            drift = _heal(controller, flag, env)
            if drift is not None:
                found.append(drift)
    return found


def _heal(controller: Controller, flag: str, env: str) -> Drift | None:
    # Checked again under the decision lock: an enable that just committed is approved.
    with controller.lock, controller.engine.begin() as conn:
        row = conn.execute(
            select(approvals.c.enabled).where(approvals.c.flag == flag, approvals.c.env == env)
        ).first()
        if row is not None and row.enabled:
            return None
        state = controller.backend.status(flag, env)
        if not state.exists or not state.enabled:
            return None
        evidence = _latest(controller.backend.history(flag), env)
        controller.backend.disable(flag, env)
        audit.append(
            conn,
            controller.audit_key,
            ACTOR,
            "drift-disabled",
            flag,
            env,
            rollout=state.rollout,
            evidence=None
            if evidence is None
            else {
                "at": evidence.at.isoformat() if evidence.at else None,
                "action": evidence.action,
                "actor": evidence.actor,
                "detail": evidence.detail,
            },
        )
    return Drift(flag, env, evidence)


def _latest(events: list[BackendEvent], env: str) -> BackendEvent | None:
    mine = [event for event in events if event.env in (env, None)]
    floor = datetime.min.replace(tzinfo=UTC)
    return max(mine, key=lambda event: event.at or floor, default=None)


class Healer:
    """Runs `heal_once` every `interval` seconds until stopped; a failed round is retried next
    interval (the store may be briefly down)."""

    def __init__(self, controller: Controller, envs: list[str], interval: float) -> None:
        self._controller, self._envs, self._interval = controller, envs, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="self-heal", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                heal_once(self._controller, self._envs)
            except Exception:  # noqa: S112 - the next round retries; the flag is checked again
                continue
