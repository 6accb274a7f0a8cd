"""Profile steps, independent of any HTTP client: render a request, judge its status, capture.

The profile client (`harness.client`) builds every request from these, whichever driver sends
it (httpx in the harness, Locust's client in the load workers), so a profile means the same
thing everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness.errors import ConfigError
from harness.profile.model import Capture, HttpStep
from harness.profile.template import Scope, render, render_value, route_of

__all__ = ["Prepared", "capture_all", "cookies_set", "is_success", "json_pointer", "prepare"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to send: everything rendered, credentials not yet added."""

    method: str
    path: str  # path and query, relative to the target
    route: str  # what findings and coverage call it
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: dict[str, str] | None = None
    auth: str = "session"

    def body_bytes(self) -> bytes:
        if self.json_body is not None:
            return json.dumps(self.json_body).encode()
        if self.form is not None:
            return urlencode(self.form).encode()
        return b""


def prepare(step: HttpStep, scope: Scope) -> Prepared:
    path = render(step.path, scope)
    if path.startswith(("http://", "https://")):
        # A captured absolute URL (a media link): keep only the part on the target.
        parts = urlsplit(path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/"):
        raise ConfigError(
            f"step {step.method} {step.path} rendered to {path!r}, which is not a path",
            "capture a path or an absolute URL for it",
        )
    return Prepared(
        method=step.method,
        path=path,
        route=step.route or route_of(step.method, step.path),
        headers={k: render(v, scope) for k, v in step.headers.items()},
        json_body=render_value(step.json_body, scope) if step.json_body is not None else None,
        form={k: render(v, scope) for k, v in step.form.items()} if step.form else None,
        auth=step.auth,
    )


def is_success(step: HttpStep, status: int) -> bool:
    return status in step.expect if step.expect else 200 <= status < 300


def json_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901. Raises KeyError when the pointer does not resolve."""
    if pointer in ("", "/"):
        return document
    value = document
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, Mapping):
            value = value[part]
        else:
            raise KeyError(pointer)
    return value


def cookies_set(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:  # a malformed Set-Cookie is the target's problem, not a capture
            continue
        found.update({key: morsel.value for key, morsel in jar.items()})
    return found


def capture_all(step: HttpStep, headers: Iterable[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """Every capture of `step`; raises KeyError naming the first one that found nothing."""
    headers = list(headers)
    parsed: Any = None
    values: dict[str, Any] = {}
    for name, capture in step.capture.items():
        if capture.json_pointer is not None and parsed is None:
            parsed = _json(body)
        values[name] = _capture(name, capture, headers, body, parsed)
    return values


def _capture(
    name: str, capture: Capture, headers: list[tuple[str, str]], body: bytes, parsed: Any
) -> Any:
    if capture.json_pointer is not None:
        try:
            return json_pointer(parsed, capture.json_pointer)
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(f"{name}: no JSON value at {capture.json_pointer}") from None
    if capture.header is not None:
        lowered = capture.header.lower()
        for key, value in headers:
            if key.lower() == lowered:
                return value
        raise KeyError(f"{name}: no {capture.header} header")
    if capture.cookie is not None:
        cookies = cookies_set(headers)
        if capture.cookie not in cookies:
            raise KeyError(f"{name}: no {capture.cookie} cookie set")
        return cookies[capture.cookie]
    assert capture.regex is not None
    match = re.search(capture.regex, body.decode("utf-8", "replace"))
    if match is None:
        raise KeyError(f"{name}: the body does not match {capture.regex!r}")
    return match.group(1)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
