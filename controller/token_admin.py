"""Token administration over the API: an admin lists the tokens (never their hashes) and revokes
one; each revocation is audited. Creating tokens stays on the controller host (`chaperone
controller token create`): an admin who could mint tokens over the API could mint a second
admin and approve their own pin changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from controller import audit
from controller.decisions import Controller, require
from controller.store import tokens
from controller.tokens import Principal
from harness.errors import UsageError


def list_tokens(controller: Controller, who: Principal) -> list[dict[str, Any]]:
    require(who, "admin")
    with controller.engine.connect() as conn:
        rows = conn.execute(
            select(tokens.c.name, tokens.c.role, tokens.c.created_at, tokens.c.revoked).order_by(
                tokens.c.name
            )
        ).all()
    return [
        {"name": row.name, "role": row.role, "created_at": row.created_at, "revoked": row.revoked}
        for row in rows
    ]


def revoke_token(controller: Controller, who: Principal, name: str, reason: str = "") -> None:
    require(who, "admin")
    with controller.decision() as conn:
        row = conn.execute(select(tokens.c.role, tokens.c.revoked).where(tokens.c.name == name))
        found = row.first()
        if found is None:
            raise UsageError(f"no token named '{name}'", "list them with GET /v1/tokens")
        conn.execute(update(tokens).where(tokens.c.name == name).values(revoked=True))
        audit.append(
            conn,
            controller.audit_key,
            who.name,
            "token-revoked",
            token=name,
            role=found.role,
            reason=reason,
        )
