"""Playback tokens: what the media player is handed beside a media URL.

The player captions the video with whose consultation it is ("Ada Lovelace, NHS 999 123 4567")
straight from the token's claims, without another round trip, and the media server can check
the claims were not edited. So a token is a JWT (HS256, under a key made per process): its
claims are base64url-encoded, never encrypted, and anyone holding the token can read them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from clinic.models import User

__all__ = ["playback_token"]

_KEY = secrets.token_bytes(32)
_HEADER: dict[str, object] = {"alg": "HS256", "typ": "JWT"}


def _segment(value: dict[str, object]) -> bytes:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def playback_token(recording_id: int, patient: User, ttl: int) -> str:
    """A signed token naming the recording and the patient its caption shows."""
    claims: dict[str, object] = {
        "rid": recording_id,
        "sub": patient.id,
        "name": patient.display_name,
        "nhs": patient.nhs_number,
        "exp": int(time.time()) + ttl,
    }
    signing = _segment(_HEADER) + b"." + _segment(claims)
    signature = base64.urlsafe_b64encode(hmac.digest(_KEY, signing, hashlib.sha256)).rstrip(b"=")
    return (signing + b"." + signature).decode()
