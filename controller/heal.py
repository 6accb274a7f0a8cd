"""Self-heal: every few seconds compare the flag store with what the controller approved, and
turn off anything that is on without an approval or in another shape than approved (a rollout
percentage or strategy reaching a different share, a hand-edited live-artefact tag), recording
it as drift with the store's own latest event for that environment as evidence (for Unleash:
its event log). Pin and revocation records written into the store by hand are audited as drift
too, and ignored."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select

from controller import audit
from controller.decisions import Controller, one_line, withdraw
from controller.store import approvals, pins
from controller.store import audit as audit_rows
from flags.backends.base import BackendEvent, FlagState

ACTOR = "controller:self-heal"
HEAL_ALERT = "self-heal"
TAGS_ACTION = "drift-trust-tags"


@dataclass(frozen=True)
class Drift:
    flag: str
    env: str
    evidence: BackendEvent | None
    why: str = "on without the controller's approval"


def heal_once(controller: Controller, envs: list[str], every_flag: bool = False) -> list[Drift]:
    """Turns off every watched flag/environment that is on but not approved, or on in another
    shape than approved (rollout, live artefact). Watched: the flags the controller pinned or
    approved, and with `every_flag` every flag the store holds (a project the controller owns
    whole)."""
    with controller.engine.connect() as conn:
        flags = {row.flag for row in conn.execute(select(pins.c.flag))}
        flags |= {row.flag for row in conn.execute(select(approvals.c.flag))}
    # Flags the controller never heard of: nobody approved them, so on is drift.
    listed = getattr(controller.backend, "flag_names", None)
    if every_flag and callable(listed):
        flags |= set(listed())
    found: list[Drift] = []
    for flag in sorted(flags):
        _trust_tags(controller, flag)
        for env in envs:
            drift = _heal(controller, flag, env)
            if drift is not None:
                found.append(drift)
    return found


def _heal(controller: Controller, flag: str, env: str) -> Drift | None:
    # Checked again inside a decision: an enable that just committed is approved.
    with controller.decision() as conn:
        row = conn.execute(
            select(approvals.c.enabled, approvals.c.digest, approvals.c.rollout).where(
                approvals.c.flag == flag, approvals.c.env == env
            )
        ).first()
        state = controller.backend.status(flag, env)
        if not state.exists or not state.enabled:
            return None
        why = _differs(controller, flag, env, state, row)
        if why is None:
            return None
        evidence = _latest(controller.backend.history(flag), env)
        if row is not None and row.enabled:
            withdraw(conn, flag, env)
        controller.backend.disable(flag, env)
        audit.append(
            conn,
            controller.audit_key,
            ACTOR,
            "drift-disabled",
            flag,
            env,
            why=why,
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
    return Drift(flag, env, evidence, why)


def _differs(
    controller: Controller, flag: str, env: str, state: FlagState, row: Row[Any, Any, Any] | None
) -> str | None:
    """Why the store's `state` is not what the controller approved (None: it is)."""
    if row is None or not row.enabled:
        return "on without the controller's approval"
    if row.rollout is not None and state.rollout != row.rollout:
        return f"rollout {state.rollout}% where {row.rollout}% was approved"
    live = controller.backend.live_build(flag, env)
    if row.digest is not None and live != row.digest:
        # The live-artefact record (an Unleash tag) was edited by hand.
        shown = live[:12] if live else "none"
        return f"live artefact {shown} where {row.digest[:12]} was approved"
    return None


def _trust_tags(controller: Controller, flag: str) -> None:
    """Pin and revocation records in the store (Unleash tags) are the single-user mode's; the
    controller never writes them and never decides from them, so any there now were written by
    hand. Ignored, and audited as drift (`drift-trust-tags`) each time they change."""
    pin, revoked = controller.backend.pin(flag), sorted(controller.backend.revoked(flag))
    seen = {"pin": pin, "revoked": revoked}
    with controller.engine.connect() as conn:
        last = conn.execute(
            select(audit_rows.c.detail)
            .where(audit_rows.c.flag == flag, audit_rows.c.action == TAGS_ACTION)
            .order_by(audit_rows.c.seq.desc())
            .limit(1)
        ).scalar()
    before = _seen_in(last) if last else {"pin": None, "revoked": []}
    if before == seen:
        return
    event = _latest(controller.backend.history(flag), "")
    with controller.decision() as conn:
        audit.append(
            conn,
            controller.audit_key,
            ACTOR,
            TAGS_ACTION,
            flag,
            why="pin or revocation tags in the flag store changed by hand; ignored (the "
            "controller's own pins and revocations decide)",
            evidence=None if event is None else {"action": event.action, "actor": event.actor},
            pin=pin,
            revoked=revoked,
        )


def _seen_in(detail: str) -> dict[str, Any]:
    recorded = json.loads(detail)
    return {"pin": recorded.get("pin"), "revoked": recorded.get("revoked", [])}


def _latest(events: list[BackendEvent], env: str) -> BackendEvent | None:
    mine = [event for event in events if event.env in (env, None)]
    floor = datetime.min.replace(tzinfo=UTC)
    return max(mine, key=lambda event: event.at or floor, default=None)


class Healer:
    """Runs `heal_once` every `interval` seconds until stopped. A failed round (the store or
    the database briefly down) is retried next interval and raises an alert until a round
    succeeds: a flag nobody can check is never silent."""

    def __init__(
        self, controller: Controller, envs: list[str], interval: float, every_flag: bool = False
    ) -> None:
        self._controller, self._envs, self._interval = controller, envs, interval
        self._every_flag = every_flag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="self-heal", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.round()

    def round(self) -> bool:
        try:
            heal_once(self._controller, self._envs, self._every_flag)
        except Exception as exc:
            self._controller.alert(
                HEAL_ALERT, f"a self-heal round failed ({one_line(exc)}); retrying next interval"
            )
            return False
        self._controller.clear_alert(HEAL_ALERT)
        return True
