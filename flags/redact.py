"""Keeps secrets (admin tokens, signing keys, support tokens, URL passwords) out of anything
written or shown."""

from __future__ import annotations

import os
import re

from reports.redact import known_values

SECRET_ENVS = (
    "UNLEASH_ADMIN_TOKEN",
    "CHAPERONE_GATE_SIGNING_KEY",
    "CHAPERONE_SUPPORT_TOKEN",
)
MASK = "[REDACTED]"
# A value this short is not a secret anyone could use, and masking it would mangle ordinary
# words (a one-character "key" would mask that letter everywhere).
MIN_SECRET_LENGTH = 4
# Unleash tokens look like "project:env.secret"; hide the secret even if we never saw it in env.
_TOKEN_SHAPE = re.compile(r"([\w*-]+:[\w*-]+\.)[0-9A-Za-z]{8,}")
# scheme://user:password@host -> scheme://[REDACTED]@host
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"']+@")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with every known secret, URL credentials and anything shaped like an Unleash token
    masked."""
    known = known_values(
        (*secrets, *(os.environ.get(n, "") for n in SECRET_ENVS)), MIN_SECRET_LENGTH
    )
    if known is not None:
        text = known.sub(MASK, text)
    text = _URL_USERINFO.sub(lambda match: match.group(1) + MASK + "@", text)
    return _TOKEN_SHAPE.sub(lambda match: match.group(1) + MASK, text)
