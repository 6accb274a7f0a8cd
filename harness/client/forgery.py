"""Tampered credentials: what a user could send to claim to be someone else.

A forger holds their own session. Whatever in it names them with a value another user's
could replace (a JWT claim equal to one of their own identifying values: `sub`, a user id, a
username; a cookie whose value is such a value) is set to the victim's, and the token is
re-encoded: with its original signature, with the signature stripped, as `alg: none`, and
expired. Opaque credentials (a random session token) hold nothing to swap and give no
forgery. Nothing here sends anything: the access suite sends the forged sessions and judges
each answer as the forger's, so the victim's data reaching them is a leak.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Forgery",
    "alg_none",
    "decode_jwt",
    "expired",
    "forgeries",
    "identity_swaps",
    "strip_signature",
    "swap_claims",
]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_SECRET_VARS = frozenset({"password", "token"})
EXPIRED_BY = 3600  # seconds in the past an expired forgery's `exp` is set to


@dataclass(frozen=True, slots=True)
class Forgery:
    how: str  # e.g. "JWT in header Authorization: claim sub set to the victim's, alg none"
    variant: str  # for coverage: "alg none", "signature stripped", "cookie" ...
    headers: dict[str, str]
    cookies: dict[str, str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, payload, signature) of a compact JWS, or None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = (json.loads(_unb64(p)) for p in parts[:2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload, parts[2]


def _encode(header: Mapping[str, Any], payload: Mapping[str, Any], signature: str) -> str:
    def segment(part: Mapping[str, Any]) -> str:
        return _b64(json.dumps(part, separators=(",", ":")).encode())

    return f"{segment(header)}.{segment(payload)}.{signature}"


def strip_signature(token: str) -> str:
    """The token with an empty signature (`header.payload.`)."""
    head, payload, _ = token.split(".")
    return f"{head}.{payload}."


def alg_none(token: str) -> str:
    """The token re-encoded with `alg: none` and no signature."""
    parts = decode_jwt(token)
    if parts is None:
        raise ValueError("not a JWT")
    header, payload, _ = parts
    return _encode({**header, "alg": "none"}, payload, "")


def expired(token: str, now: float) -> str:
    """The token with `exp` (and `nbf`/`iat` no later than it) in the past, its signature kept."""
    parts = decode_jwt(token)
    if parts is None:
        raise ValueError("not a JWT")
    header, payload, signature = parts
    past = int(now) - EXPIRED_BY
    changed = {**payload, "exp": past}
    for claim in ("iat", "nbf"):
        if claim in payload:
            changed[claim] = past - 60
    return _encode(header, changed, signature)


def swap_claims(token: str, swaps: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The token with every claim (top level) whose value is a key of `swaps` set to that
    key's victim value, the signature kept; and the names of the claims changed."""
    parts = decode_jwt(token)
    if parts is None:
        raise ValueError("not a JWT")
    header, payload, signature = parts
    changed: dict[str, Any] = dict(payload)
    names: list[str] = []
    for claim, value in payload.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        if str(value) in swaps:
            victim = swaps[str(value)]
            changed[claim] = int(victim) if isinstance(value, int) and _is_int(victim) else victim
            names.append(claim)
    return _encode(header, changed, signature), names


def _is_int(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def identity_swaps(forger: Mapping[str, Any], victim: Mapping[str, Any]) -> dict[str, Any]:
    """The forger's identifying values mapped to the victim's same variable's value."""
    swaps: dict[str, Any] = {}
    for name, mine in forger.items():
        if name in _SECRET_VARS or name not in victim or isinstance(mine, bool):
            continue
        if isinstance(mine, str | int) and str(mine) and str(mine) != str(victim[name]):
            swaps.setdefault(str(mine), victim[name])
    return swaps


def forgeries(
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    forger: Mapping[str, Any],
    victim: Mapping[str, Any],
    now: float,
) -> list[Forgery]:
    """The forger's credentials made to claim the victim, in every way the credentials allow.
    Bounded: four per JWT that names the forger, one per set of swappable cookies."""
    swaps = identity_swaps(forger, victim)
    if not swaps:
        return []
    out: list[Forgery] = []
    for where, kind, values in (("header", "h", headers), ("cookie", "c", cookies)):
        for name, value in values.items():
            match = _JWT.search(value)
            if match is None:
                continue
            token = match.group(0)
            swapped, claims = swap_claims(token, swaps)
            if not claims:
                continue
            said = f"JWT in {where} {name}: claim {', '.join(claims)} set to the victim's"
            for variant, forged in (
                ("original signature", swapped),
                ("signature stripped", strip_signature(swapped)),
                ("alg none", alg_none(swapped)),
                ("expired, original signature", expired(swapped, now)),
            ):
                new = value.replace(token, forged)
                h = {**headers, name: new} if kind == "h" else dict(headers)
                c = {**cookies, name: new} if kind == "c" else dict(cookies)
                out.append(Forgery(f"{said}, {variant}", variant, h, c))
    plain = {k: str(swaps[v]) for k, v in cookies.items() if v in swaps}
    if plain:
        # The cookie alone: an app that trusts it must not find the forger's own session
        names = ", ".join(sorted(plain))
        out.append(
            Forgery(f"cookie {names} set to the victim's value, no session", "cookie", {}, plain)
        )
    return out
