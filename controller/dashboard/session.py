"""The dashboard's session: the bearer token a person pastes once becomes a signed, httpOnly,
SameSite=Strict cookie that names the token by its hash, plus a CSRF token for every form.

The cookie holds no secret the API would accept: only the token's sha256 (what the tokens table
keys on), the CSRF token and an expiry, signed with a key derived from the controller's audit
key. Every request looks the hash up again, so a revoked token ends its sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select

from controller.store import tokens
from controller.tokens import Principal, principal_for, token_hash
from flags.keys import SigningKey

COOKIE = "chaperone_session"
LOGIN_COOKIE = "chaperone_login"
FLASH_COOKIE = "chaperone_flash"
LIFETIME = 8 * 3600


@dataclass(frozen=True)
class Session:
    who: Principal
    csrf: str


class Sessions:
    def __init__(self, engine: Engine, audit_key: SigningKey) -> None:
        self._engine = engine
        # Derived, not random: sessions survive a restart and hold across controller instances
        # sharing one database and key. Never the audit key itself.
        self._key = hmac.new(audit_key.pem(), b"chaperone dashboard session v1", "sha256").digest()

    def login(self, token: str) -> tuple[Session, str] | None:
        """The session and its cookie value for a valid token; None for anything else."""
        who = principal_for(self._engine, token.strip())
        if who is None:
            return None
        csrf = secrets.token_urlsafe(24)
        payload = {"t": token_hash(token.strip()), "c": csrf, "e": int(time.time()) + LIFETIME}
        return Session(who, csrf), self.sign(payload)

    def read(self, cookie: str | None) -> Session | None:
        payload = self.unsign(cookie)
        expiry = payload.get("e") if payload is not None else None
        if payload is None or not isinstance(expiry, int) or expiry < time.time():
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(tokens.c.name, tokens.c.role, tokens.c.revoked).where(
                    tokens.c.sha256 == str(payload.get("t", ""))
                )
            ).first()
        if row is None or row.revoked or row.role == "ci":
            return None
        return Session(Principal(row.name, row.role), str(payload.get("c", "")))

    def sign(self, payload: dict[str, object]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        mac = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        return f"{body.decode()}.{mac}"

    def unsign(self, value: str | None) -> dict[str, object] | None:
        if not value or "." not in value:
            return None
        body, _, mac = value.rpartition(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None


def same_token(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)
