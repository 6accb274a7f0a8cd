"""The environment a child process (the local clinic, Locust, Playwright's driver and Chromium,
a nested chaperone) starts with: an allow-list of what a program needs to run, never a secret.

A deny-list by name let through whatever a credential happened to be called (a `DATABASE_URL`
with a password in it reached every child), so only names a child needs pass: the search
path, locale, time zone, temporary directories, Python's, Node's and Playwright's own
settings, coverage's hooks and Chaperone's non-secret ones. Even those are dropped when they
are named like a credential or hold a URL with a password. A child that needs a secret gets
exactly that one, passed explicitly (`extra`), so a compromised or chatty child (a Locust log, a
browser crash dump) can never hold the gate's signing key or the Unleash admin token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

# Known secrets, by name.
SECRET_NAMES = frozenset(
    {
        "CHAPERONE_GATE_SIGNING_KEY",
        "CHAPERONE_GATE_KEY",
        "CHAPERONE_SUPPORT_TOKEN",
        "CHAPERONE_CONTROLLER_TOKEN",
        "UNLEASH_ADMIN_TOKEN",
        "UNLEASH_API_TOKEN",
    }
)
# Anything else named like a credential: cloud keys, CI tokens, database passwords.
_SECRET_SHAPE = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|SIGNING|_KEY$|^KEY$|AUTH)",
    re.IGNORECASE,
)
# What a child may inherit.
_ALLOWED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "TERM",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "VIRTUAL_ENV",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "DBUS_SESSION_BUS_ADDRESS",
        "NO_PROXY",
        "no_proxy",
    }
)
_ALLOWED_PREFIXES = ("LC_", "XDG_", "PYTHON", "PLAYWRIGHT_", "NODE_", "CHAPERONE_", "COVERAGE_")
# More names an operator lets through, comma-separated; `NAME*` is a prefix (a proxy setting, a
# custom CA, a test double's knobs). Still never a secret-shaped name or a URL password.
ALSO_ALLOW_ENV = "CHAPERONE_CHILD_ENV"
# scheme://user:password@ anywhere in a value.
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@:]*:[^/\s@]*@", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return name in SECRET_NAMES or bool(_SECRET_SHAPE.search(name))


def may_inherit(name: str, value: str, also: Iterable[str] = ()) -> bool:
    """True for a name a child needs (or one of `also`, the operator's), not named like a
    secret, whose value holds no password."""
    extra = any(name == a or (a.endswith("*") and name.startswith(a[:-1])) for a in also if a)
    allowed = extra or name in _ALLOWED_NAMES or name.startswith(_ALLOWED_PREFIXES)
    return allowed and not is_secret_name(name) and not _URL_PASSWORD.search(value)


def child_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed part of `base` (default: this process's environment), plus `extra`."""
    source = os.environ if base is None else base
    also = [a.strip() for a in source.get(ALSO_ALLOW_ENV, "").split(",")]
    env = {name: value for name, value in source.items() if may_inherit(name, value, also)}
    env.update(extra or {})
    return env


# {{env.NAME}} in a profile: a value the profile's steps read from the environment.
_ENV_PLACEHOLDER = re.compile(r"\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def named_by(texts: Iterable[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a profile's `{{env.NAME}}` placeholders name, for a child that renders the
    profile's steps (a Locust process): exactly those, passed on purpose."""
    source = os.environ if base is None else base
    names = {name for text in texts for name in _ENV_PLACEHOLDER.findall(text)}
    return {name: source[name] for name in sorted(names) if name in source}
