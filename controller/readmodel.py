"""What the controller knows, read for people: every flag by environment, one flag in detail,
the audit timeline with each row's verification state, and the incidents.

Reads only: nothing here changes state. Everything comes from the controller's own database
(pins, proposals, approvals, revocations, the signed audit) and the flag store as the
controller's backend reports it. The verdict a flag was enabled on is read from the signed
`enable-intent` row that used it (controller.evidence).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from controller.audit import GENESIS, entry_hash
from controller.decisions import Controller
from controller.stages import parse_stages
from controller.store import approvals, audit, guard_actions, pin_proposals, pins, revocations
from controller.tokens import Principal
from flags.backends.base import FlagState
from reports.incident import Incident, incident_causes

DEFAULT_ENVS = ("development", "production")
# Audit actions that switch a flag (rollout history) and that record something going wrong.
ROLLOUT_ACTIONS = frozenset(
    {
        "enable-intent",
        "enabled",
        "enable-failed",
        "disable-intent",
        "disabled",
        "revoked",
        "stage-intent",
        "stage-changed",
        "stage-failed",
        "auto-disabled",
        "drift-disabled",
    }
)
_TROUBLE = ("drift", "incident", "leak", "alert", "fail-closed", "auto-disabled")
_WATCH = ("watch",)


def require_reader(who: Principal) -> None:
    """Everyone but CI may read: `ci` only submits verdicts."""
    if who.role == "ci":
        raise PermissionError(f"'{who.name}' (ci) may not read the controller's state")


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    flag: str | None
    env: str | None
    detail: dict[str, Any]
    verified: bool
    problem: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "flag": self.flag,
            "env": self.env,
            "detail": self.detail,
            "verified": self.verified,
            "problem": self.problem,
        }


class LiveStates:
    """The flag store's state per flag and environment, cached for `ttl` seconds so that many
    dashboards polling at once cost the store one read per cell per interval."""

    def __init__(self, ttl: float = 1.0) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, FlagState | None]] = {}

    def get(self, controller: Controller, flag: str, env: str) -> FlagState | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((flag, env))
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        state: FlagState | None
        try:
            state = controller.backend.status(flag, env)
        except Exception:  # the store is down: the cell says "unknown", the page still renders
            state = None
        with self._lock:
            self._cache[(flag, env)] = (now, state)
        return state

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


class ReadModel:
    def __init__(
        self,
        controller: Controller,
        envs: Sequence[str] = DEFAULT_ENVS,
        watch_every: float | None = None,
        watch_envs: Sequence[str] = (),
    ) -> None:
        self.controller = controller
        self.envs = tuple(envs)
        # Seconds between the controller's watch rounds (None: served without --watch-target),
        # and the environments it probes (empty: all).
        self.watch_every = watch_every
        self.watch_envs = frozenset(watch_envs)
        self.live = LiveStates()
        # (seq, sha256, signature) -> signature valid: every poll re-reads the log, but a row's
        # signature needs checking once (a changed row has a new key and is checked again).
        self._signatures: dict[tuple[int, str, str], bool] = {}

    # -- the audit, verified ----------------------------------------------------------------

    def audit_rows(self, flag: str | None = None) -> list[AuditRow]:
        """Every audit row (or a flag's), oldest first, each checked as `audit verify` does:
        its hash, its link to the row before and its signature by the controller's key."""
        key = self.controller.audit_key.public()
        with self.controller.engine.connect() as conn:
            raw = conn.execute(select(audit).order_by(audit.c.seq)).all()
        rows: list[AuditRow] = []
        expected, prev = 1, GENESIS
        for row in raw:
            problems: list[str] = []
            if row.seq != expected:
                problems.append(f"rows {expected}..{row.seq - 1} missing")
            if row.prev != prev:
                problems.append("chain broken")
            digest = entry_hash(
                row.seq, row.at, row.actor, row.action, row.flag, row.env, row.detail, row.prev
            )
            if digest != row.sha256:
                problems.append("rewritten")
            elif not self._signed(key.verify, row.seq, row.signature, row.sha256):
                problems.append("not signed by the controller")
            expected, prev = row.seq + 1, row.sha256
            if flag is not None and row.flag != flag:
                continue
            rows.append(
                AuditRow(
                    seq=row.seq,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    flag=row.flag,
                    env=row.env,
                    detail=_detail(row.detail),
                    verified=not problems,
                    problem="; ".join(problems),
                )
            )
        return rows

    def _signed(self, verify: Any, seq: int, signature: str, digest: str) -> bool:
        known = self._signatures.get((seq, digest, signature))
        if known is None:
            known = self._signatures[(seq, digest, signature)] = _signed(verify, signature, digest)
        return known

    # -- the grid ---------------------------------------------------------------------------

    def flags(self) -> list[str]:
        with self.controller.engine.connect() as conn:
            return sorted(_known_flags(conn))

    def environments(self, rows: Iterable[AuditRow] = ()) -> list[str]:
        with self.controller.engine.connect() as conn:
            seen = {row.env for row in conn.execute(select(approvals.c.env))}
        seen |= {row.env for row in rows if row.env}
        return list(self.envs) + sorted(seen - set(self.envs))

    def grid(self) -> dict[str, Any]:
        rows = self.audit_rows()
        envs = self.environments(rows)
        with self.controller.engine.connect() as conn:
            flags = sorted(_known_flags(conn))
            approved = {(r.flag, r.env): r for r in conn.execute(select(approvals))}
            pinned = {r.flag for r in conn.execute(select(pins.c.flag))}
            waiting = {
                r.flag
                for r in conn.execute(
                    select(pin_proposals.c.flag).where(pin_proposals.c.approved_by.is_(None))
                )
            }
            acted = conn.execute(select(guard_actions).order_by(guard_actions.c.id)).all()
        responding = {(r.flag, r.env): r for r in acted if r.step != "done"}
        latest = {(r.flag, r.env): _incident_line(r) for r in acted}
        now = datetime.now(UTC)
        by_flag: dict[str, list[AuditRow]] = {}
        for row in rows:
            if row.flag is not None:
                by_flag.setdefault(row.flag, []).append(row)
        return {
            "generated_at": now.isoformat(),
            "envs": envs,
            "flags": [
                {
                    "flag": flag,
                    "pinned": flag in pinned,
                    "pending_pin": flag in waiting,
                    "cells": {
                        env: self._cell(
                            flag,
                            env,
                            approved.get((flag, env)),
                            by_flag.get(flag, []),
                            responding.get((flag, env)),
                            now,
                        )
                        | {"incident": latest.get((flag, env))}
                        for env in envs
                    },
                }
                for flag in flags
            ],
            "audit_intact": all(row.verified for row in rows),
            "alerts": self.controller.alerts.open(),
        }

    def _cell(
        self,
        flag: str,
        env: str,
        approval: Any,
        rows: list[AuditRow],
        responding: Any,
        now: datetime,
    ) -> dict[str, Any]:
        """One flag in one environment; `rows` are the flag's own audit rows."""
        live = self.live.get(self.controller, flag, env)
        approved_on = bool(approval is not None and approval.enabled)
        digest = approval.digest if approved_on else None
        mine = [row for row in rows if _about(row, env)]
        if live is None:
            state = "unknown"
        elif live.enabled and approved_on:
            state = "on"
        elif live.enabled:
            state = "drift"  # on in the store without an approval: self-heal turns it off
        elif approved_on:
            state = "failed"  # approved but off in the store (switched off behind its back)
        else:
            state = "off"
        return {
            "state": state,
            "approved": approved_on,
            "rollout": live.rollout if live is not None and live.enabled else 0,
            "exists": live.exists if live is not None else None,
            "build": approval.build if approved_on else None,
            "digest": digest,
            "verdict": _verdict_ages(current_verdict(mine, digest), now),
            "stage": _stage(approval, now) if approved_on else None,
            "watch": self._watch(env, approved_on, responding),
            "watch_last": _last(mine, _is_watch),
            "trouble": _last(mine, lambda r: _has(r, _TROUBLE)),
            "last_change": _last(mine, lambda r: r.action in ROLLOUT_ACTIONS),
        }

    def _watch(self, env: str, approved_on: bool, responding: Any) -> dict[str, Any]:
        """What the controller's watch is doing here: responding to a leak (a guard action not
        finished, with its step and attempts), watching an approved flag, or nothing."""
        if responding is not None:
            return {
                "status": "responding",
                "text": f"responding to {responding.kind}: {responding.step} next"
                + (f" (attempt {responding.attempts + 1})" if responding.attempts else ""),
                "error": responding.last_error or "",
            }
        watched = self.watch_every is not None and (not self.watch_envs or env in self.watch_envs)
        if approved_on and watched:
            return {"status": "watching", "text": f"watched every {self.watch_every:g} s"}
        if approved_on:
            why = "no --watch-target" if self.watch_every is None else "not a --watch-env"
            return {"status": "unwatched", "text": f"NOT watched ({why})"}
        return {"status": "idle", "text": "not watched (off)"}

    # -- one flag ---------------------------------------------------------------------------

    def flag(self, flag: str) -> dict[str, Any]:
        rows = self.audit_rows(flag)
        grid = self.grid()
        cells: dict[str, Any] = next((f["cells"] for f in grid["flags"] if f["flag"] == flag), {})
        with self.controller.engine.connect() as conn:
            pin = conn.execute(select(pins).where(pins.c.flag == flag)).first()
            proposals = conn.execute(
                select(pin_proposals)
                .where(pin_proposals.c.flag == flag)
                .order_by(pin_proposals.c.id.desc())
            ).all()
            revoked = conn.execute(
                select(revocations).where(revocations.c.flag == flag).order_by(revocations.c.at)
            ).all()
        try:
            events = [
                {
                    "at": e.at.isoformat() if e.at else None,
                    "action": e.action,
                    "env": e.env,
                    "actor": e.actor,
                    "detail": e.detail,
                }
                for e in self.controller.backend.history(flag)
            ]
        except Exception:  # the store's own log is evidence, not a requirement to render
            events = []
        with self.controller.engine.connect() as conn:
            known_stages = sorted(
                {
                    percent
                    for row in conn.execute(
                        select(approvals.c.stages).where(approvals.c.flag == flag)
                    )
                    for percent, _ in parse_stages(row.stages)
                }
            )
        return {
            "flag": flag,
            "known": flag in self.flags(),
            "known_stages": known_stages,
            "envs": grid["envs"],
            "cells": cells,
            "pin": None
            if pin is None
            else {
                "policy_digest": pin.policy_digest,
                "keys": json.loads(pin.keys),
                "key_expiry": json.loads(pin.key_expiry or "{}"),
                "proposal": pin.proposal,
            },
            "proposals": [
                {
                    "id": p.id,
                    "policy_digest": p.policy_digest,
                    "keyids": sorted(json.loads(p.keys)),
                    "key_expiry": json.loads(p.key_expiry or "{}"),
                    "proposed_by": p.proposed_by,
                    "approved_by": p.approved_by,
                    "created_at": p.created_at,
                }
                for p in proposals
            ],
            "revoked": [{"digest": r.digest, "by": r.by, "at": r.at} for r in revoked],
            "rollout": [
                row.to_json()
                for row in rows
                if row.action in ROLLOUT_ACTIONS or _has(row, _TROUBLE)
            ],
            "store_events": events,
            "audit": [row.to_json() for row in reversed(rows)],
            "audit_intact": grid["audit_intact"],
            "alerts": self.controller.alerts.open(flag),
        }

    def verdict(self, flag: str, env: str) -> dict[str, Any] | None:
        rows = [r for r in self.audit_rows(flag) if r.env == env]
        with self.controller.engine.connect() as conn:
            row = conn.execute(
                select(approvals).where(approvals.c.flag == flag, approvals.c.env == env)
            ).first()
        digest = row.digest if row is not None and row.enabled else None
        return _verdict_ages(current_verdict(rows, digest), datetime.now(UTC))

    # -- incidents --------------------------------------------------------------------------

    def incidents(self) -> list[dict[str, Any]]:
        """Every leak (or lost target) the controller's watch acted on, newest first, with its
        steps and the exposure list for a notification: whose data reached whom, what, where
        and when."""
        rows = self.audit_rows()
        by_action: dict[int, list[AuditRow]] = {}
        revoked: dict[tuple[str | None, Any], AuditRow] = {}
        for row in rows:
            action = row.detail.get("guard_action")
            if isinstance(action, int):
                by_action.setdefault(action, []).append(row)
            elif row.action == "revoked" and _is_watch(row):
                # The watch's revoke row names the digest, not the guard action.
                revoked.setdefault((row.flag, row.detail.get("digest")), row)
        with self.controller.engine.connect() as conn:
            acted = conn.execute(select(guard_actions).order_by(guard_actions.c.id.desc())).all()
        found: list[dict[str, Any]] = []
        for g in acted:
            incident = _detail(g.incident) if g.incident else {}
            trail = list(by_action.get(g.id, []))
            revoke = revoked.get((g.flag, g.digest)) if g.digest else None
            if revoke is not None:
                trail = sorted([*trail, revoke], key=lambda r: r.seq)
            found.append(
                {
                    "id": g.id,
                    "flag": g.flag,
                    "env": g.env,
                    "kind": g.kind,
                    "reason": g.reason,
                    "digest": g.digest,
                    "step": g.step,
                    "detected_at": g.detected_at,
                    "disabled_at": g.disabled_at,
                    "last_error": g.last_error or "",
                    "rollout": incident.get("rollout_at_detection"),
                    "enabled_at": incident.get("enabled_at"),
                    "trail": [
                        {"seq": r.seq, "action": r.action, "at": r.at, "verified": r.verified}
                        for r in trail
                    ],
                    "verified": all(r.verified for r in trail),
                    "exposures": [_exposure(e) for e in incident.get("exposures", [])],
                    "causes": _causes(incident),
                }
            )
        return found


def _causes(incident: dict[str, Any]) -> list[dict[str, Any]]:
    """What went wrong, one line per root cause: as the watch wrote them, or (an incident
    written before the watch grouped its findings) grouped here the same way."""
    causes = incident.get("causes")
    if causes is None:
        try:
            found = Incident.model_validate(incident).findings
            causes = [c.model_dump(mode="json") for c in incident_causes(found)]
        except ValueError:
            causes = []
    return [c for c in causes if isinstance(c, dict)]


def _incident_line(action: Any) -> dict[str, Any]:
    """The last thing the watch acted on in one environment, in brief for the grid."""
    incident = _detail(action.incident) if action.incident else {}
    exposures = incident.get("exposures", [])
    pairs = exposures if isinstance(exposures, list) else []
    return {
        "id": action.id,
        "kind": action.kind,
        "detected_at": action.detected_at,
        "causes": [str(c.get("title", "")) for c in _causes(incident)],
        "exposures": len(pairs),
        "owners": len({str(e.get("owner")) for e in pairs if isinstance(e, dict)}),
        "observers": len({str(e.get("observer")) for e in pairs if isinstance(e, dict)}),
    }


def _stage(approval: Any, now: datetime) -> dict[str, Any]:
    """Where the approved rollout is among the pinned policy's stages, and when the next stage
    may be raised to (controller.stages.check_stage decides; this only tells people)."""
    stages = parse_stages(approval.stages)
    current = approval.rollout or 100
    percents = [percent for percent, _ in stages]
    reached = [index for index, percent in enumerate(percents) if percent <= current]
    following = reached[-1] + 1 if reached else 0
    out: dict[str, Any] = {
        "current": current,
        "stages": percents,
        "index": reached[-1] + 1 if reached else 0,
        "next": None,
        "wait_seconds": 0,
    }
    if following < len(percents):
        out["next"] = percents[following]
        if reached:
            since = _when(approval.since)
            waited = (now - since).total_seconds() if since is not None else 0.0
            out["wait_seconds"] = max(0, int(stages[reached[-1]][1] - waited))
    return out


def current_verdict(rows: Sequence[AuditRow], digest: str | None) -> dict[str, Any] | None:
    """The evidence of the newest enable of `digest` among `rows` (None when none is live)."""
    if digest is None:
        return None
    for row in reversed(rows):
        if row.action == "enable-intent" and row.detail.get("digest") == digest:
            evidence = row.detail.get("verdict")
            return {
                "digest": digest,
                "build": row.detail.get("build"),
                "run_id": row.detail.get("run_id"),
                "enabled_by": row.actor,
                "enabled_at": row.at,
                "seq": row.seq,
                "verified": row.verified,
                **(evidence if isinstance(evidence, dict) else {}),
            }
    return None


def _verdict_ages(verdict: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if verdict is None:
        return None
    out = dict(verdict)
    for field, name in (("created_at", "age_seconds"), ("expires_at", "expires_in_seconds")):
        value = _when(verdict.get(field))
        if value is not None:
            seconds = (now - value).total_seconds()
            out[name] = int(seconds if field == "created_at" else -seconds)
    return out


def _exposure(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    what = raw.get("what", [])
    surfaces = raw.get("surfaces", [])
    return {
        "owner": str(raw.get("owner", "")),
        "observer": str(raw.get("observer", "")),
        "what": [str(w) for w in what] if isinstance(what, list) else [str(what)],
        "surfaces": [str(s) for s in surfaces] if isinstance(surfaces, list) else [str(surfaces)],
        "first_seen": str(raw.get("first_seen", "")),
        "last_seen": str(raw.get("last_seen", "")),
        "findings": raw.get("findings"),
    }


def _known_flags(conn: Connection) -> set[str]:
    names: set[str] = set()
    for column in (pins.c.flag, approvals.c.flag, pin_proposals.c.flag, revocations.c.flag):
        names |= {row[0] for row in conn.execute(select(column).distinct())}
    names |= {
        row[0]
        for row in conn.execute(select(audit.c.flag).where(audit.c.flag.is_not(None)).distinct())
    }
    return names


def _about(row: AuditRow, env: str) -> bool:
    """Whether a row concerns `env`: its own rows, and flag-wide rows, except a revoke that did
    not turn this environment off (its detail lists the environments it did)."""
    if row.env is not None:
        return row.env == env
    if row.action == "revoked":
        envs = row.detail.get("envs")
        return isinstance(envs, list) and env in envs
    return True


def _is_watch(row: AuditRow) -> bool:
    return row.actor.startswith("controller:watch") or _has(row, _WATCH)


def _has(row: AuditRow, words: Sequence[str]) -> bool:
    return any(word in row.action for word in words)


def _last(rows: Sequence[AuditRow], pick: Any) -> dict[str, Any] | None:
    for row in reversed(rows):
        if pick(row):
            return {"seq": row.seq, "at": row.at, "action": row.action, "actor": row.actor}
    return None


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": text[:200]}
    return value if isinstance(value, dict) else {"value": value}


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _signed(verify: Any, signature_hex: str, digest: str) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return bool(verify(signature, digest.encode()))
