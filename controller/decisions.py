"""Every decision the controller makes about a flag, each one database transaction.

An enable re-reads the pin and the revocations inside its transaction, verifies the verdict
against the pinned keys only, writes its intent, calls the flag backend, and then confirms or
compensates (turns the flag off). Decisions are serialised, so a revoke that arrives while an
enable is in flight runs after it and turns the flag off: a concurrent revoke always wins.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from controller import audit
from controller.alerts import Alerts
from controller.evidence import verdict_evidence
from controller.stages import check_stage, parse_stages, stages_text
from controller.store import (
    approvals,
    guard_actions,
    now_text,
    pin_proposals,
    pins,
    revocations,
)
from controller.tokens import Principal
from flags.backends.base import FlagBackend, FlagState
from flags.keys import SigningKey, VerifyKey
from flags.verdict import MAX_VERDICT_BYTES, EnableRequest, Proven, verify_for_enable
from harness.errors import ChaperoneError, GateRefused, UsageError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
ACTOR = "controller"
# Any fixed 64-bit number: the advisory lock every controller on one PostgreSQL database takes
# for each decision.
DECISION_LOCK = 0x63686170_6572
log = logging.getLogger("chaperone.controller")


def artefact_digest(text: str) -> str:
    """A sha256 artefact digest as stored: lower-case hex, with an optional `sha256:` prefix."""
    value = text.strip().lower().removeprefix("sha256:")
    if not _DIGEST.match(value):
        raise UsageError(
            f"'{text[:80]}' is not a sha256 artefact digest",
            "revoke by the full 64-hex digest of the artefact (the verdict's subject digest)",
        )
    return value


def public_key_from_pem(pem: str) -> VerifyKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise UsageError(
            "a pinned key is not a PEM public key", "pin the gate's gate.pub"
        ) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise UsageError("a pinned key is not an Ed25519 key", "pin the gate's gate.pub")
    return VerifyKey(key)


@dataclass(frozen=True)
class Pin:
    flag: str
    policy_digest: str
    keys: dict[str, str]  # keyid -> PEM
    expiry: dict[str, str] = field(default_factory=dict)  # keyid -> ISO time it stops verifying


class Controller:
    def __init__(self, engine: Engine, backend: FlagBackend, audit_key: SigningKey) -> None:
        self.engine = engine
        self.backend = backend
        self.audit_key = audit_key
        self.lock = threading.Lock()
        self.alerts = Alerts()

    @contextlib.contextmanager
    def decision(self) -> Iterator[Connection]:
        """One decision's transaction, serialised with every other decision: by a lock between
        this process's threads, and on PostgreSQL by a transaction-scoped advisory lock between
        controller processes sharing the database (SQLite's BEGIN IMMEDIATE already takes the
        whole database's write lock)."""
        with self.lock, self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DECISION_LOCK})
            yield conn

    def alert(
        self, key: str, message: str, flag: str | None = None, env: str | None = None
    ) -> None:
        """Raises an alert; a new one is audited too, unless the database is what failed."""
        if not self.alerts.raise_(key, message, flag, env):
            return
        try:
            with self.decision() as conn:
                audit.append(
                    conn, self.audit_key, ACTOR, "alert", flag, env, alert=key, message=message
                )
        except SQLAlchemyError as exc:
            log.error("ALERT not audited: %s", one_line(exc))

    def clear_alert(self, key: str) -> None:
        if not self.alerts.clear(key):
            return
        try:
            with self.decision() as conn:
                audit.append(conn, self.audit_key, ACTOR, "alert-cleared", alert=key)
        except SQLAlchemyError as exc:
            log.error("alert clearance not audited: %s", one_line(exc))

    def fail_closed(self, flag: str, envs: list[str], exc: BaseException) -> StoreFailed:
        """The database failed mid-decision: turn the flag off where it may be on, and say so
        in one line (the API's answer, the log, the alert)."""
        off = [env for env in envs if self._force_off(flag, env)]
        still = [env for env in envs if env not in off]
        reason = f"database write failed ({one_line(exc)}); '{flag}' turned off in " + (
            ", ".join(off) or "no environment"
        )
        if still:
            reason += f", and could NOT be turned off in {', '.join(still)}"
        self.alerts.raise_(f"store:{flag}", reason, flag, None)
        return StoreFailed(reason, "free space or repair the controller's database")

    # -- pins (four eyes) -----------------------------------------------------------------

    def propose_pin(
        self,
        who: Principal,
        flag: str,
        policy_digest: str,
        keys_pem: list[str],
        reason: str = "",
        expires: dict[str, datetime] | None = None,
    ) -> int:
        """`expires` gives a key being rotated out (by key id) the time it stops verifying:
        the overlap window in which verdicts signed by the old and the new key both pass."""
        require(who, "admin")
        digest = artefact_digest(policy_digest)
        if not keys_pem:
            raise UsageError("a pin needs at least one gate public key", "pass the gate's gate.pub")
        keys = {public_key_from_pem(pem).keyid: pem for pem in keys_pem}
        expiry = _expiry(keys, expires or {})
        with self.decision() as conn:
            result = conn.execute(
                insert(pin_proposals).values(
                    flag=flag,
                    policy_digest=digest,
                    keys=json.dumps(keys, sort_keys=True),
                    proposed_by=who.name,
                    created_at=now_text(),
                    key_expiry=json.dumps(expiry, sort_keys=True),
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None  # an INSERT always has one
            proposal = int(inserted[0])
            audit.append(
                conn,
                self.audit_key,
                who.name,
                "pin-proposed",
                flag,
                proposal=proposal,
                policy_digest=digest,
                keyids=sorted(keys),
                key_expiry=expiry,
                reason=reason,
            )
        return proposal

    def approve_pin(self, who: Principal, proposal: int, reason: str = "") -> Pin:
        require(who, "admin")
        with self.decision() as conn:
            row = conn.execute(select(pin_proposals).where(pin_proposals.c.id == proposal)).first()
            if row is None or row.approved_by is not None:
                raise UsageError(f"no open pin proposal {proposal}", "list proposals with status")
            if row.proposed_by == who.name:
                raise GateRefused(
                    "a pin change needs a second admin's approval (four eyes)",
                    "ask a different admin to approve it",
                )
            conn.execute(
                update(pin_proposals)
                .where(pin_proposals.c.id == proposal)
                .values(approved_by=who.name)
            )
            conn.execute(delete(pins).where(pins.c.flag == row.flag))
            conn.execute(
                insert(pins).values(
                    flag=row.flag,
                    policy_digest=row.policy_digest,
                    keys=row.keys,
                    proposal=proposal,
                    key_expiry=row.key_expiry,
                )
            )
            audit.append(
                conn,
                self.audit_key,
                who.name,
                "pin-approved",
                row.flag,
                proposal=proposal,
                proposed_by=row.proposed_by,
                policy_digest=row.policy_digest,
                reason=reason,
            )
        return Pin(row.flag, row.policy_digest, json.loads(row.keys), _expiry_of(row.key_expiry))

    # -- enable, disable, revoke ------------------------------------------------------------

    def enable(
        self,
        who: Principal,
        flag: str,
        env: str,
        envelope: bytes,
        rollout: int = 100,
        reason: str = "",
    ) -> Proven:
        require(who, "release-manager")
        if len(envelope) > MAX_VERDICT_BYTES:
            raise GateRefused(f"verdict is larger than {MAX_VERDICT_BYTES} bytes", "")
        try:
            proven, failure = self._enable(who, flag, env, envelope, rollout, reason)
        except SQLAlchemyError as exc:
            raise self.fail_closed(flag, [env], exc) from None
        if failure is not None:
            raise _turned_off(failure) from failure
        return proven

    def _enable(
        self, who: Principal, flag: str, env: str, envelope: bytes, rollout: int, reason: str
    ) -> tuple[Proven, Exception | None]:
        failure: Exception | None = None
        with self.decision() as conn:
            pin = _pin(conn, flag)
            proven = _verify(pin, flag, env, envelope)
            digest = proven.verdict.build_digest
            if digest in _revoked(conn, flag):
                raise GateRefused(
                    f"artefact {digest[:12]} (build '{proven.verdict.build}') is revoked for "
                    f"'{flag}'",
                    "a revoked artefact never comes back; gate and enable a new build",
                )
            stages = proven.policy.rollout_stages
            if stages and rollout not in {stage.percent for stage in stages}:
                raise GateRefused(
                    f"rollout {rollout}% is not a stage of the pinned policy",
                    "enable at one of the policy's rollout_stages",
                )
            audit.append(
                conn,
                self.audit_key,
                who.name,
                "enable-intent",
                flag,
                env,
                digest=digest,
                build=proven.verdict.build,
                run_id=proven.verdict.run_id,
                reason=reason,
                verdict=verdict_evidence(proven.verdict),
            )
            _approve(
                conn,
                flag,
                env,
                enabled=True,
                digest=digest,
                build=proven.verdict.build,
                rollout=rollout,
                stages=stages_text(stages),
            )
            try:
                self.backend.enable(flag, env, rollout, digest)
            except Exception as exc:
                failure = exc
                self._compensate(conn, who, "enable-failed", flag, env, exc, digest=digest)
            else:
                audit.append(conn, self.audit_key, who.name, "enabled", flag, env, digest=digest)
        return proven, failure

    def _compensate(
        self,
        conn: Connection,
        who: Principal,
        action: str,
        flag: str,
        env: str,
        exc: Exception,
        **fields: Any,
    ) -> None:
        """A store call of an enable or a stage change failed: the approval is withdrawn, the
        flag forced off, and the failure audited (with whether the forcing worked)."""
        withdraw(conn, flag, env)
        compensated = self._force_off(flag, env)
        audit.append(
            conn,
            self.audit_key,
            who.name,
            action,
            flag,
            env,
            error=one_line(exc),
            compensated=compensated,
            **fields,
        )

    def disable(self, who: Principal, flag: str, env: str, reason: str = "") -> FlagState:
        require(who, "release-manager")
        failure: Exception | None = None
        state = FlagState(flag, env, enabled=True, rollout=0)
        try:
            with self.decision() as conn:
                audit.append(
                    conn, self.audit_key, who.name, "disable-intent", flag, env, reason=reason
                )
                withdraw(conn, flag, env)
                # On failure the approval stays withdrawn, so self-heal keeps turning it off.
                off, failure = self._switch_off(conn, who, flag, env)
                state = off or state
        except SQLAlchemyError as exc:
            raise self.fail_closed(flag, [env], exc) from None
        if failure is not None:
            raise self.still_on(flag, [env], failure)
        return state

    def _switch_off(
        self, conn: Connection, who: Principal, flag: str, env: str, **fields: Any
    ) -> tuple[FlagState | None, Exception | None]:
        """The store call of a disable or a revoke, audited either way: `disabled`, or
        `disable-failed` with the failure (returned, for the caller's alert)."""
        try:
            state = self.backend.disable(flag, env)
        except Exception as exc:
            audit.append(
                conn,
                self.audit_key,
                who.name,
                "disable-failed",
                flag,
                env,
                error=one_line(exc),
                **fields,
            )
            return None, exc
        audit.append(conn, self.audit_key, who.name, "disabled", flag, env, **fields)
        return state, None

    def still_on(self, flag: str, envs: list[str], exc: Exception) -> BackendUnreachable:
        message = (
            f"'{flag}' may still be on in {', '.join(envs)}: the flag backend failed "
            f"({one_line(exc)}); the controller keeps turning it off"
        )
        for env in envs:
            self.alert(f"still-on:{flag}:{env}", message, flag, env)
        return BackendUnreachable(message, "check the flag store; self-heal retries every round")

    def revoke(self, who: Principal, flag: str, digest_text: str, reason: str = "") -> list[str]:
        """Revokes an artefact for `flag` and turns off every environment it is live in."""
        require(who, "release-manager")
        digest = artefact_digest(digest_text)
        live: list[str] = []
        failed: dict[str, Exception] = {}
        try:
            with self.decision() as conn:
                live = _live_envs(conn, flag, digest)
                revoke_in(conn, self.audit_key, who.name, flag, digest, live, reason)
                for env in live:
                    _off, failure = self._switch_off(conn, who, flag, env, digest=digest)
                    if failure is not None:
                        failed[env] = failure
        except SQLAlchemyError as exc:
            raise self.fail_closed(flag, live or self._envs_live(flag, digest), exc) from None
        if failed:
            raise self.still_on(flag, sorted(failed), next(iter(failed.values())))
        return live

    def _envs_live(self, flag: str, digest: str) -> list[str]:
        """Where `digest` is approved, read outside any decision (the write path just failed)."""
        try:
            with self.engine.connect() as conn:
                return _live_envs(conn, flag, digest)
        except SQLAlchemyError:
            return []

    def set_stage(
        self, who: Principal, flag: str, env: str, percent: int, reason: str = ""
    ) -> FlagState:
        """Moves the live artefact's rollout to another of its pinned policy's stages; see
        controller.stages for which moves are allowed. Compensates a failed store call by
        turning the flag off."""
        require(who, "release-manager")
        failure: Exception | None = None
        state = FlagState(flag, env, enabled=False, rollout=0)
        try:
            with self.decision() as conn:
                row = conn.execute(
                    select(approvals).where(approvals.c.flag == flag, approvals.c.env == env)
                ).first()
                if row is None or not row.enabled:
                    raise GateRefused(
                        f"'{flag}' is not on in {env}", "enable it first; stages move a live flag"
                    )
                current = row.rollout or 100
                since = datetime.fromisoformat(row.since) if row.since else None
                check_stage(parse_stages(row.stages), current, since, percent, datetime.now(UTC))
                audit.append(
                    conn,
                    self.audit_key,
                    who.name,
                    "stage-intent",
                    flag,
                    env,
                    digest=row.digest,
                    rollout=percent,
                    previous=current,
                    reason=reason,
                )
                conn.execute(
                    update(approvals)
                    .where(approvals.c.flag == flag, approvals.c.env == env)
                    .values(rollout=percent, since=now_text())
                )
                try:
                    state = self.backend.set_rollout(flag, env, percent)
                except Exception as exc:
                    failure = exc
                    self._compensate(conn, who, "stage-failed", flag, env, exc)
                else:
                    audit.append(
                        conn, self.audit_key, who.name, "stage-changed", flag, env, rollout=percent
                    )
        except SQLAlchemyError as exc:
            raise self.fail_closed(flag, [env], exc) from None
        if failure is not None:
            raise _turned_off(failure) from failure
        return state

    def submit_verdict(self, who: Principal, flag: str, env: str, envelope: bytes) -> Proven:
        """CI hands in a verdict: checked against the pins and recorded, never enabling."""
        if who.role not in ("ci", "release-manager", "admin"):
            raise PermissionError(f"'{who.name}' ({who.role}) may not submit verdicts")
        if len(envelope) > MAX_VERDICT_BYTES:
            raise GateRefused(f"verdict is larger than {MAX_VERDICT_BYTES} bytes", "")
        with self.decision() as conn:
            proven = _verify(_pin(conn, flag), flag, env, envelope)
            audit.append(
                conn,
                self.audit_key,
                who.name,
                "verdict-submitted",
                flag,
                env,
                digest=proven.verdict.build_digest,
                build=proven.verdict.build,
                result=proven.verdict.verdict,
                verdict=verdict_evidence(proven.verdict),
            )
        return proven

    def status(self, who: Principal, flag: str) -> dict[str, Any]:
        require(who, "viewer")
        with self.engine.connect() as conn:
            pin = conn.execute(select(pins).where(pins.c.flag == flag)).first()
            rows = conn.execute(select(approvals).where(approvals.c.flag == flag)).all()
            revoked = sorted(_revoked(conn, flag))
            proposals = conn.execute(
                select(pin_proposals).where(
                    pin_proposals.c.flag == flag, pin_proposals.c.approved_by.is_(None)
                )
            ).all()
            guard = [
                {
                    "id": row.id,
                    "env": row.env,
                    "kind": row.kind,
                    "step": row.step,
                    "reason": row.reason,
                    "attempts": row.attempts,
                    "last_error": row.last_error,
                }
                for row in conn.execute(
                    select(guard_actions).where(
                        guard_actions.c.flag == flag, guard_actions.c.step != "done"
                    )
                )
            ]
        return {
            "flag": flag,
            "pin": None
            if pin is None
            else {
                "policy_digest": pin.policy_digest,
                "keyids": sorted(json.loads(pin.keys)),
                "key_expiry": _expiry_of(pin.key_expiry),
            },
            "open_proposals": [
                {"id": p.id, "proposed_by": p.proposed_by, "policy_digest": p.policy_digest}
                for p in proposals
            ],
            "approved": {
                row.env: {
                    "enabled": row.enabled,
                    "digest": row.digest,
                    "build": row.build,
                    "rollout": row.rollout,
                }
                for row in rows
            },
            "revoked": revoked,
            "alerts": self.alerts.open(flag),
            "guard": guard,
        }

    def open_alerts(self, who: Principal) -> dict[str, Any]:
        """Every open alert, and every watch action not finished (from the database: they
        survive a restart)."""
        require(who, "viewer")
        with self.engine.connect() as conn:
            pending = conn.execute(
                select(guard_actions).where(guard_actions.c.step != "done")
            ).all()
        return {
            "alerts": self.alerts.open(),
            "guard": [
                {
                    "id": row.id,
                    "flag": row.flag,
                    "env": row.env,
                    "kind": row.kind,
                    "step": row.step,
                    "attempts": row.attempts,
                    "last_error": row.last_error,
                }
                for row in pending
            ],
        }

    def _force_off(self, flag: str, env: str) -> bool:
        try:
            self.backend.disable(flag, env)
        except Exception:
            return False
        return True


_RANK = {"viewer": 0, "release-manager": 1, "admin": 2}


def require(who: Principal, role: str) -> None:
    """`ci` may only submit verdicts; otherwise admin > release-manager > viewer."""
    if who.role == "ci" or _RANK[who.role] < _RANK[role]:
        raise PermissionError(f"'{who.name}' ({who.role}) may not do this; it needs {role}")


def _pin(conn: Connection, flag: str) -> Pin:
    row = conn.execute(select(pins).where(pins.c.flag == flag)).first()
    if row is None:
        raise GateRefused(
            f"flag '{flag}' has no pin in the controller",
            "an admin proposes a pin and a second admin approves it",
        )
    return Pin(flag, row.policy_digest, json.loads(row.keys), _expiry_of(row.key_expiry))


def _expiry(keys: dict[str, str], expires: dict[str, datetime]) -> dict[str, str]:
    unknown = sorted(set(expires) - set(keys))
    if unknown:
        raise UsageError(
            f"expiry given for key id(s) not in the pin: {', '.join(unknown)}",
            "name keys by the key id the controller shows",
        )
    if set(expires) == set(keys):
        raise UsageError(
            "every pinned key would expire", "keep at least one key without an expiry (the new one)"
        )
    for keyid, at in expires.items():
        if at.tzinfo is None:
            raise UsageError(f"expiry of key {keyid} has no time zone", "e.g. 2026-12-31T00:00Z")
    return {keyid: at.astimezone(UTC).isoformat() for keyid, at in expires.items()}


def _expiry_of(text_: str | None) -> dict[str, str]:
    return dict(json.loads(text_)) if text_ else {}


def _verify(pin: Pin, flag: str, env: str, envelope: bytes) -> Proven:
    """The verdict, checked against each pinned key in turn: never a key the enabler brings."""
    now = datetime.now(UTC)
    request = EnableRequest(
        flag=flag,
        env=env,
        build=None,
        pin=pin.policy_digest,
        revoked=frozenset(),
        now=now,
    )
    # A key past its expiry (the end of a rotation's overlap) verifies nothing any more.
    live = {
        keyid: pem
        for keyid, pem in pin.keys.items()
        if keyid not in pin.expiry or datetime.fromisoformat(pin.expiry[keyid]) > now
    }
    if not live:
        raise GateRefused(
            f"every key pinned for '{flag}' has expired", "pin the gate's current key (four eyes)"
        )
    with tempfile.TemporaryDirectory(prefix="chaperone-verdict-") as tmp:
        path = Path(tmp) / "verdict.json"
        path.write_bytes(envelope)
        last: GateRefused | None = None
        for pem in live.values():
            try:
                return verify_for_enable(path, public_key_from_pem(pem), request)
            except GateRefused as exc:
                last = exc
    assert last is not None  # a pin always has a key
    raise last


def _revoked(conn: Connection, flag: str) -> set[str]:
    return {
        row.digest
        for row in conn.execute(select(revocations.c.digest).where(revocations.c.flag == flag))
    }


def _approve(
    conn: Connection,
    flag: str,
    env: str,
    *,
    enabled: bool,
    digest: str | None,
    build: str | None,
    rollout: int | None = None,
    stages: str | None = None,
) -> None:
    conn.execute(delete(approvals).where(approvals.c.flag == flag, approvals.c.env == env))
    conn.execute(
        insert(approvals).values(
            flag=flag,
            env=env,
            enabled=enabled,
            digest=digest,
            build=build,
            rollout=rollout,
            stages=stages,
            since=now_text(),
        )
    )


def withdraw(conn: Connection, flag: str, env: str) -> None:
    """The controller no longer approves `flag` in `env` (it must be off)."""
    _approve(conn, flag, env, enabled=False, digest=None, build=None)


def _live_envs(conn: Connection, flag: str, digest: str) -> list[str]:
    return [
        row.env
        for row in conn.execute(
            select(approvals.c.env).where(
                approvals.c.flag == flag,
                approvals.c.digest == digest,
                approvals.c.enabled.is_(True),
            )
        )
    ]


def revoke_in(
    conn: Connection,
    key: SigningKey,
    actor: str,
    flag: str,
    digest: str,
    envs: list[str],
    reason: str = "",
) -> None:
    """Records the revocation and withdraws the approval wherever `digest` is approved; the
    caller turns those environments off in the backend."""
    if digest not in _revoked(conn, flag):
        conn.execute(insert(revocations).values(flag=flag, digest=digest, by=actor, at=now_text()))
    audit.append(conn, key, actor, "revoked", flag, digest=digest, envs=envs, reason=reason)
    for env in envs:
        withdraw(conn, flag, env)


class StoreFailed(ChaperoneError):
    """The controller's database failed mid-decision; the flag was turned off (fail closed)."""


class BackendUnreachable(ChaperoneError):
    """The flag backend failed to turn a flag off; it may still be on, and is being retried."""


def _turned_off(failure: Exception) -> GateRefused:
    """The refusal of an enable or stage change whose store call failed and was compensated."""
    return GateRefused(
        f"the flag backend failed ({one_line(failure)}); the flag was turned off",
        "check the flag store, then enable again",
    )


def one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message (a database
    error's SQL and parameters are left out)."""
    origin = getattr(exc, "orig", None) or exc
    text_ = str(origin).strip().splitlines()[0] if str(origin).strip() else ""
    return f"{type(origin).__name__}: {text_[:200]}" if text_ else type(origin).__name__
