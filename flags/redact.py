"""Keeps secrets (admin tokens, gate keys) out of anything written or shown."""

from __future__ import annotations

import os
import re

SECRET_ENVS = ("UNLEASH_ADMIN_TOKEN", "CHAPERONE_GATE_KEY")
MASK = "[REDACTED]"
# Unleash tokens look like "project:env.secret"; hide the secret even if we never saw it in env.
_TOKEN_SHAPE = re.compile(r"([\w*-]+:[\w*-]+\.)[0-9A-Za-z]{8,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with every known secret, and anything shaped like an Unleash token, masked."""
    known = [s for s in (*secrets, *(os.environ.get(name, "") for name in SECRET_ENVS)) if s]
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _TOKEN_SHAPE.sub(lambda match: match.group(1) + MASK, text)
