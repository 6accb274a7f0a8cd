"""The environment a child process (the local clinic, Locust, Chromium, a nested chaperone)
starts with: ours, minus every credential. A child that needs a secret gets exactly that one,
passed explicitly, so a compromised or chatty child (a Locust log, a browser crash dump) can
never hold the gate's signing key or the Unleash admin token."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Known secrets, by name.
SECRET_NAMES = frozenset(
    {
        "CHAPERONE_GATE_SIGNING_KEY",
        "CHAPERONE_GATE_KEY",
        "CHAPERONE_SUPPORT_TOKEN",
        "UNLEASH_ADMIN_TOKEN",
        "UNLEASH_API_TOKEN",
    }
)
# Anything else named like a credential: cloud keys, CI tokens, database passwords.
_SECRET_SHAPE = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|SIGNING|_KEY$|^KEY$|AUTH)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    return name in SECRET_NAMES or bool(_SECRET_SHAPE.search(name))


def child_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`base` (default: this process's environment) without credentials, plus `extra`."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_secret_name(name)}
    env.update(extra or {})
    return env
