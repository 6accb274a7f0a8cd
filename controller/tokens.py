"""Bearer tokens for people and CI: stored as sha256, shown once, each with one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, insert, select

from controller.store import now_text, tokens
from harness.errors import UsageError

Role = Literal["viewer", "release-manager", "admin", "ci"]
ROLES: tuple[Role, ...] = ("viewer", "release-manager", "admin", "ci")
PREFIX = "chc_"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, name: str, role: str) -> str:
    """A new token for `name`; only its hash is stored, so this is the one time it is seen."""
    if role not in ROLES:
        raise UsageError(f"role '{role}' is not one of {', '.join(ROLES)}", "pick one of those")
    if not name.strip():
        raise UsageError("a token needs a --name", "name the person or CI job that holds it")
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if conn.execute(select(tokens.c.name).where(tokens.c.name == name)).first():
            raise UsageError(f"a token named '{name}' exists", "pick another --name")
        conn.execute(
            insert(tokens).values(
                name=name,
                role=role,
                sha256=token_hash(token),
                created_at=now_text(),
                revoked=False,
            )
        )
    return token


def principal_for(engine: Engine, token: str) -> Principal | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(tokens.c.name, tokens.c.role, tokens.c.revoked).where(
                tokens.c.sha256 == token_hash(token)
            )
        ).first()
    if row is None or row.revoked:
        return None
    return Principal(row.name, row.role)
