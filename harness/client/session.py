"""A logged-in user, as the client keeps it between requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness.models import Actor

__all__ = ["Session"]


@dataclass
class Session:
    """A logged-in user (or the anonymous client, with no credentials). Mutable: a re-login
    replaces the credentials in place, so every holder of the session gets the new ones."""

    actor: Actor
    captures: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    obtained: float = field(default_factory=time.time)
    generation: int = 0
    # How the credentials were tampered with (harness.client.forgery): such a session is
    # never logged in again, and a denial is what it should get
    forged: str = ""

    def credentials(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    @property
    def token(self) -> str | None:
        """The bearer token, if the session has one (Playwright and Locust reuse it)."""
        value = self.captures.get("token")
        return str(value) if value is not None else None

    @property
    def cookie(self) -> str | None:
        return self.credentials().get("Cookie")

    @property
    def authenticated(self) -> bool:
        return not self.actor.is_anonymous and not self.forged
