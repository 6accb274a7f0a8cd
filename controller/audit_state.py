"""Whether the controller's own tables still hold what its signed audit says they hold.

The controller decides from its `pins`, `revocations` and `approvals` tables, not from the
audit. Whoever can write its database (not the enabler, in the production set-up) could swap a
pin, delete a revocation or approve a flag on without touching the audit; the signed rows still
say which pin two admins approved, which artefacts were revoked and which enable is live, so
`chaperone audit verify` compares the two."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from controller.decisions import public_key_from_pem
from controller.store import approvals, audit, pins, revocations
from harness.errors import ChaperoneError


def state_problems(engine: Engine) -> list[str]:
    """A line per pin or revocation that differs from the audit (empty: they agree)."""
    with engine.connect() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
        held = {row.flag: row for row in conn.execute(select(pins))}
        kept = {(row.flag, row.digest) for row in conn.execute(select(revocations))}
        on = conn.execute(select(approvals).where(approvals.c.enabled.is_(True))).all()
    proposed: dict[int, tuple[str, list[str]]] = {}
    approved: dict[str, tuple[str, list[str]]] = {}
    revoked: set[tuple[str, str]] = set()
    live: dict[tuple[str, str], str | None] = {}  # (flag, env) -> the digest last enabled
    for row in rows:
        detail = _detail(row.detail)
        _follow_live(live, row.action, row.flag, row.env, detail)
        if row.action == "pin-proposed":
            proposed[detail.get("proposal", -1)] = (
                str(detail.get("policy_digest")),
                sorted(detail.get("keyids", [])),
            )
        elif row.action == "pin-approved" and row.flag:
            approved[row.flag] = proposed.get(detail.get("proposal", -1), ("?", []))
        elif row.action == "revoked" and row.flag:
            revoked.add((row.flag, str(detail.get("digest"))))
    problems: list[str] = []
    for flag, (digest, keyids) in sorted(approved.items()):
        pin = held.pop(flag, None)
        if pin is None:
            problems.append(f"the pin of '{flag}' the audit approved is gone from the database")
        elif pin.policy_digest != digest or _keyids(pin.keys) != keyids:
            problems.append(f"the pin of '{flag}' is not the one the audit approved (edited)")
    problems += [f"'{flag}' has a pin the audit never approved" for flag in sorted(held)]
    problems += [
        f"the revocation of {digest[:12]} for '{flag}' is gone from the database"
        for flag, digest in sorted(revoked - kept)
    ]
    for row in on:
        if (row.flag, row.env) not in live or live[(row.flag, row.env)] != row.digest:
            problems.append(
                f"'{row.flag}' is approved on in {row.env} for an artefact the audit did not "
                "leave enabled there (edited)"
            )
        elif (row.flag, row.digest) in revoked:
            problems.append(f"'{row.flag}' is approved on in {row.env} for a revoked artefact")
    return problems


# Audit actions after which the controller no longer approves (flag, env): a disable, a
# compensated enable or stage change, the watch's disable, self-heal's withdrawal.
_WITHDRAWN = frozenset(
    {"disable-intent", "enable-failed", "stage-failed", "auto-disabled", "drift-disabled"}
)


def _follow_live(
    live: dict[tuple[str, str], str | None],
    action: str,
    flag: str | None,
    env: str | None,
    detail: dict[str, Any],
) -> None:
    """Replays one audit row onto which (flag, env) the audit leaves enabled, with what."""
    if flag is None:
        return
    if action == "enabled" and env is not None:
        live[(flag, env)] = detail.get("digest")
    elif action in _WITHDRAWN and env is not None:
        live.pop((flag, env), None)
    elif action == "revoked":
        for withdrawn in detail.get("envs", []):
            live.pop((flag, str(withdrawn)), None)


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}  # a rewritten row: the chain check reports it
    return value if isinstance(value, dict) else {}


def _keyids(keys_json: str) -> list[str]:
    """The ids of the pinned keys, computed from the keys themselves: a PEM swapped in under
    an old id does not keep that id."""
    try:
        return sorted(public_key_from_pem(pem).keyid for pem in json.loads(keys_json).values())
    except (ValueError, AttributeError, ChaperoneError):
        return ["unreadable"]
