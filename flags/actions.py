"""Every change to a flag, audited write-ahead: pin a policy, enable, disable, revoke a build.

    intent line (fsynced) -> the backend changes -> outcome line

A refusal is one `record` line. Enabling, raising a rollout and pinning never happen without
their intent on disk. Disabling (the kill switch) and revoking only make things safer: they
happen even when the audit log cannot be written, and then fail loudly (`Unaudited`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from flags.audit import DEFAULT_AUDIT, AuditEntry, AuditError, AuditLog, Identity, identity
from flags.backends.base import FlagBackend, FlagState
from flags.keys import VerifyKey
from flags.policy import BoundPolicy
from flags.verdict import EnableRequest, Proven, build_digest_of, file_sha256, verify_for_enable
from harness.errors import ChaperoneError, GateRefused, InfrastructureError, UsageError

ALL_ENVIRONMENTS = "*"
T = TypeVar("T")


class Unaudited(AuditError):
    """The change happened (a flag was turned off) but its audit line could not be written."""


@dataclass
class Desk:
    """Where an action happens: the flag's backend, the audit log and who is acting."""

    backend: FlagBackend
    log: AuditLog
    who: Identity

    def line(self, action: str, flag: str, env: str, **fields: Any) -> dict[str, Any]:
        return {
            "actor": self.who.user,
            "ci": self.who.ci,
            "claimed_actor": self.who.claimed,
            "action": action,
            "flag": flag,
            "env": env,
            "backend": self.backend.name,
            **fields,
        }


def audit_path_for(explicit: Path | None, state: Path) -> Path:
    """The audit log: the one given, else audit.jsonl next to the local state file."""
    return explicit or state.with_name(DEFAULT_AUDIT.name)


def desk_for(backend: FlagBackend, log_path: Path, actor: str | None) -> Desk:
    """A desk on `backend` whose log anchors its chain head in that backend; `actor` is only
    ever recorded as a claim, beside the OS user and the CI identity."""
    log = AuditLog(log_path, anchor=backend.set_audit_head)
    return Desk(backend, log, identity(actor))


def _classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, GateRefused):
        return "refused", exc.one_line()
    if isinstance(exc, ChaperoneError):
        return "error", exc.one_line()
    if isinstance(exc, KeyboardInterrupt):
        return "error", "interrupted"
    return "error", f"internal error: {type(exc).__name__}"


@contextlib.contextmanager
def write_ahead(
    desk: Desk, action: str, flag: str, env: str, **fields: Any
) -> Iterator[AuditEntry]:
    """The intent is on disk before the block runs (an AuditError here stops the change); the
    outcome follows whatever happens in the block."""
    intent = desk.log.append(
        **desk.line(action, flag, env, phase="intent", result="pending", **fields)
    )
    outcome = desk.line(action, flag, env, phase="outcome", intent=intent.seq, **fields)
    try:
        yield intent
    except BaseException as exc:
        result, reason = _classify(exc)
        with contextlib.suppress(AuditError):  # the original error is what the user must see
            desk.log.append(**{**outcome, "result": result, "reason": reason})
        raise
    desk.log.append(**{**outcome, "result": "done", "reason": fields.get("reason", "")})


def record_refusal(
    desk: Desk, action: str, flag: str, env: str, exc: ChaperoneError, **fields: Any
) -> None:
    """One line for a refused or failed action that changed nothing; if even that cannot be
    written, the user learns both."""
    result, reason = _classify(exc)
    try:
        desk.log.append(**desk.line(action, flag, env, result=result, reason=reason, **fields))
    except AuditError as audit_exc:
        raise AuditError(f"{exc.one_line()} (and not audited: {audit_exc.problem})") from None


# -- the actions ------------------------------------------------------------------------------


def confirm(after: FlagState, *, enabled: bool, rollout: int | None) -> None:
    if after.enabled != enabled or (rollout is not None and after.rollout != rollout):
        raise InfrastructureError(
            f"the backend reports {after.flag} enabled={after.enabled} at {after.rollout}% "
            f"after the change",
            "another strategy or writer overrides it; check the backend",
        )


@dataclass(frozen=True)
class EnableAsk:
    flag: str
    env: str
    verdict: Path
    build: str
    now: datetime
    rollout: int | None = None
    build_digest: str | None = None


def enable(desk: Desk, ask: EnableAsk, key: VerifyKey | None) -> tuple[FlagState, Proven]:
    """Turn the flag on at the pinned policy's first stage (or `ask.rollout`), only if the
    verdict proves this build safe under the pinned policy."""
    fields = {
        "build": ask.build,
        "verdict_file": str(ask.verdict),
        "verdict_sha256": file_sha256(ask.verdict),
    }
    try:
        if key is None:
            raise UsageError("no public key to verify the verdict with", "pass --verify-key")
        request = EnableRequest(
            ask.flag,
            ask.env,
            ask.build,
            desk.backend.pin(ask.flag),
            desk.backend.revoked(ask.flag),
            ask.now,
            ask.build_digest,
        )
        proven = verify_for_enable(ask.verdict, key, request)
    except ChaperoneError as exc:
        record_refusal(desk, "enable", ask.flag, ask.env, exc, **fields)
        raise
    percent = ask.rollout or proven.policy.rollout_stages[0].percent
    digest = build_digest_of(ask.build)
    with write_ahead(
        desk,
        "enable",
        ask.flag,
        ask.env,
        rollout=percent,
        build_digest=digest,
        policy_sha256=proven.verdict.policy_hash,
        **fields,
    ):
        after = desk.backend.enable(ask.flag, ask.env, percent, digest)
        confirm(after, enabled=True, rollout=percent)
    return after, proven


def disable(
    desk: Desk, flag: str, env: str, reason: str = "", action: str = "disable"
) -> FlagState:
    """The kill switch: the flag goes off even if the audit log is unwritable (Unaudited is
    raised afterwards, with the flag already off)."""

    def change() -> FlagState:
        after = desk.backend.disable(flag, env)
        confirm(after, enabled=False, rollout=None)
        return after

    return _restrictive(desk, change, desk.line(action, flag, env, reason=reason))


def _restrictive(desk: Desk, change: Callable[[], T], line: dict[str, Any]) -> T:
    """A change that only ever makes things safer (off, revoked) is never blocked by the audit
    log: it is written ahead when it can be, and an unwritable log is reported afterwards."""
    unwritten: list[str] = []
    intent = _try_append(desk, unwritten, **line, phase="intent", result="pending")
    link = {"intent": intent.seq} if intent is not None else {}
    try:
        done = change()
    except BaseException as exc:
        result, why = _classify(exc)
        _try_append(
            desk, unwritten, **{**line, "reason": why}, phase="outcome", result=result, **link
        )
        raise
    _try_append(desk, unwritten, **line, phase="outcome", result="done", **link)
    if unwritten:
        raise Unaudited(
            f"{line['action']} of {line['flag']} in {line['env']} is done, but the audit log "
            f"could not be written: {unwritten[0]}",
            "fix the audit log's path or disk; the change itself is in force",
        )
    return done


def _try_append(desk: Desk, unwritten: list[str], **fields: Any) -> AuditEntry | None:
    try:
        return desk.log.append(**fields)
    except AuditError as exc:
        unwritten.append(exc.problem)
        return None


def pin(desk: Desk, flag: str, bound: BoundPolicy, replace: bool = False) -> str | None:
    """Pin the policy a verdict must have passed to enable `flag`; returns the old pin."""
    fields = {"policy_sha256": bound.digest}
    try:
        if bound.policy.flag != flag:
            raise UsageError(
                f"policy {bound.uri} is for flag '{bound.policy.flag}', not '{flag}'",
                "pin this flag's own policy",
            )
        old = desk.backend.pin(flag)
        if old is not None and old != bound.digest and not replace:
            raise GateRefused(
                f"flag '{flag}' is already pinned to policy {old[:12]}",
                "pass --replace to change the pin (the change is audited)",
            )
    except ChaperoneError as exc:
        record_refusal(desk, "pin", flag, ALL_ENVIRONMENTS, exc, **fields)
        raise
    shown = Path(bound.uri).name
    reason = f"policy {old[:12] if old else 'none'} -> {bound.digest[:12]} ({shown})"
    with write_ahead(desk, "pin", flag, ALL_ENVIRONMENTS, reason=reason, **fields):
        desk.backend.set_pin(flag, bound.digest, bound.policy.environments)
    return old


def revoke(
    desk: Desk,
    flag: str,
    build_digest: str,
    build: str | None,
    reason: str,
    env: str = ALL_ENVIRONMENTS,
) -> None:
    """Record a build as revoked for `flag`: `enable` refuses it from now on. Like the kill
    switch, it is never blocked by an unwritable audit log."""
    line = desk.line("revoke", flag, env, build=build, build_digest=build_digest, reason=reason)
    _restrictive(desk, lambda: desk.backend.revoke(flag, build_digest), line)
