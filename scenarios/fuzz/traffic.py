"""What Schemathesis sent and received, in Chaperone's terms.

    request headers ──► Credentials ──► the actor it was sent as (anonymous when it carried
                                        nobody's credentials: a missing-auth case, a probe)
    Schemathesis response ──► Observation (bodies, headers, errors, media ranges, list pages)
    request ──► the canaries it carried (a value Schemathesis reused from another response):
                an echo of those is not a leak, and such a read is never repeated
    curl ──► credentials and canaries replaced before it is written anywhere

The actor is read back from the credentials on the wire rather than remembered per case:
Schemathesis also sends requests of its own (a check's control request, a re-sent case),
and a case generated without authentication reaches the server as nobody.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

import httpx

from harness.adapters import Session
from harness.driver import observation_from
from harness.matcher import CanaryMatcher
from harness.models import ANONYMOUS_ID, Canary, Finding, Observation

__all__ = ["Credentials", "Received", "echoed", "observation_of", "sent_canaries"]

REDACTED = "<redacted>"


class Received(Protocol):
    """The part of Schemathesis's `Response` read here (its `request` is a requests one)."""

    status_code: int
    headers: Mapping[str, list[str]]
    content: bytes
    elapsed: float
    request: Any


class Credentials:
    """Which actor's credentials a request carried. Sessions are learned as they log in; an
    earlier token stays known after a re-login, since the server may still accept it."""

    def __init__(self, header_names: Iterable[str]) -> None:
        self._names = {name.lower() for name in header_names}
        self._values: dict[str, str] = {}  # header value or cookie pair -> actor id
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def learn(self, session: Session) -> None:
        with self._lock:
            for name, value in session.headers.items():
                self._names.add(name.lower())
                self._values[value] = session.actor.id
                self._secrets |= {value, value.split(" ", 1)[-1]}
            for name, value in session.cookies.items():
                self._values[f"{name}={value}"] = session.actor.id
                self._secrets.add(value)

    def actor_of(self, headers: Mapping[str, str]) -> str:
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            for name in self._names:
                owner = self._values.get(lowered.get(name, ""))
                if owner is not None:
                    return owner
            for pair in lowered.get("cookie", "").split(";"):
                owner = self._values.get(pair.strip())
                if owner is not None:
                    return owner
        return ANONYMOUS_ID

    def secrets(self) -> list[str]:
        """Every credential value seen, longest first (for redaction)."""
        with self._lock:
            return sorted((s for s in self._secrets if len(s) >= 8), key=len, reverse=True)

    def is_credential(self, name: str) -> bool:
        return name.lower() in self._names or name.lower() == "cookie"


def observation_of(actor: str, step: str, endpoint: str, received: Received) -> Observation:
    """The Observation the driver would have made of the same exchange."""
    request = received.request
    body = request.body or b""
    sent = httpx.Request(
        str(request.method or "GET"),
        str(request.url),
        headers=list(request.headers.items()),
        content=body.encode() if isinstance(body, str) else bytes(body),
    )
    pairs = [(k, v) for k, values in received.headers.items() for v in values]
    # requests already decoded the body; httpx must not try to decode it a second time
    plain = [(k, v) for k, v in pairs if k.lower() != "content-encoding"]
    reply = httpx.Response(
        received.status_code, headers=plain, content=received.content, request=sent
    )
    obs = observation_from(actor, step, endpoint, reply, float(received.elapsed))
    return replace(obs, headers=tuple(pairs))


def sent_canaries(
    obs: Observation,
    request_headers: Mapping[str, str],
    matcher: CanaryMatcher,
    credentials: Credentials,
) -> tuple[Canary, ...]:
    """Canaries the request itself carried, in its URL, body or (non-credential) headers."""
    headers = "\n".join(
        f"{k}: {v}" for k, v in request_headers.items() if not credentials.is_credential(k)
    )
    data = b"\n".join((obs.url.encode(), obs.sent_body, headers.encode()))
    return tuple(hit.canary for hit in matcher.scan(data))


def echoed(finding: Finding, sent: Iterable[Canary]) -> bool:
    """A canary leak whose canary the request itself carried: the server echoed it back."""
    if finding.check != "canary-leak":
        return False
    return any(c.owner == finding.owner and c.kind == finding.canary_kind for c in sent)


def scrub(text: str, secrets: Iterable[str], matcher: CanaryMatcher) -> str:
    """A reproduction safe to write: no credential, no canary."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for hit in matcher.scan(text.encode()):
        pattern = re.compile(re.escape(hit.canary.value), re.IGNORECASE)
        text = pattern.sub(f"<canary of {hit.canary.owner}>", text)
    return text
