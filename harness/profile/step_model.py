"""One HTTP step of a profile: a request, what it captures, what it expects (Hurl's rhythm)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.profile.base import METHODS, _Strict


class Capture(_Strict):
    """Where a captured value comes from. A bare string in YAML is a JSON pointer."""

    json_pointer: str | None = Field(
        None, alias="json", description="RFC 6901 pointer into the JSON body, e.g. /auth_token"
    )
    header: str | None = Field(None, description="a response header")
    cookie: str | None = Field(None, description="a cookie the response sets")
    regex: str | None = Field(None, description="first group of a regex over the body text")

    @model_validator(mode="before")
    @classmethod
    def _pointer_shorthand(cls, value: Any) -> Any:
        return {"json": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Capture:
        given = [x for x in (self.json_pointer, self.header, self.cookie, self.regex) if x]
        if len(given) != 1:
            raise ValueError("a capture takes exactly one of json, header, cookie, regex")
        if self.regex is not None:
            try:
                compiled = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from None
            if compiled.groups < 1:
                raise ValueError(f"regex {self.regex!r} needs a (group) to capture")
        if self.json_pointer is not None and not self.json_pointer.startswith("/"):
            raise ValueError(f"JSON pointer {self.json_pointer!r} must start with '/'")
        return self


class HttpStep(_Strict):
    """One request. Written `- post: /path` (any HTTP method as the key), then its options."""

    method: str
    path: str = Field(description="path (and query) on the target; may hold {{placeholders}}")
    json_body: Any = Field(None, alias="json", description="JSON body (templated recursively)")
    form: dict[str, str] | None = Field(None, description="form-encoded body")
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["session", "none", "support"] = Field(
        "session",
        description="session: as the acting user; none: no credentials; support: the staging "
        "support API's credentials",
    )
    capture: dict[str, Capture] = Field(default_factory=dict)
    expect: list[int] = Field(
        default_factory=list, description="statuses that mean success (default: any 2xx)"
    )
    range: Literal["halves"] | None = Field(
        None, description="fetch the body in two Range requests, as a media player would"
    )
    route: str | None = Field(
        None,
        description="the route to report this request under, e.g. 'GET /media/{id}', when the "
        "path is a captured URL",
    )

    @model_validator(mode="before")
    @classmethod
    def _method_key(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "method" in value:
            return value
        found = [m for m in METHODS if m in value]
        if len(found) != 1:
            raise ValueError(
                "a step names exactly one HTTP method as its key, e.g. `- get: /api/me`"
            )
        data = dict(value)
        method = found[0]
        data["path"] = data.pop(method)
        data["method"] = method.upper()
        return data

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not (path.startswith("/") or path.startswith("{{")):
            raise ValueError(f"path {path!r} must start with '/' (it is relative to --target)")
        return path

    @field_validator("expect")
    @classmethod
    def _statuses(cls, statuses: list[int]) -> list[int]:
        bad = [s for s in statuses if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"{bad} are not HTTP statuses")
        return statuses


Steps = list[HttpStep]
