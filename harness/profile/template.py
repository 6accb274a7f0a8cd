"""`{{placeholders}}` in profile strings, rendered from a scope of variables.

    {{user.username}}        a field or capture of the user acting (or being created)
    {{customer.username}}    the same, by the acting user's role name (role `customer`)
    {{owner.id}}             the owner of the resource being created
    {{appointment.id}}       a resource (or entity) the step acts on
    {{care.username}}        the user related to the owner through relation `care`
    {{token}}                a value an earlier step captured
    {{support.token}}        the staging support token (from the environment)
    {{env.NAME}}             any environment variable (secrets never live in the file)
    {{run.tag}}              unique per seeded world; {{run.seed}}; {{index}}

A string that is exactly one placeholder renders to the raw value, so a captured integer id
stays an integer in a JSON body. Anything missing is a one-line ConfigError naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError

__all__ = [
    "PLACEHOLDER",
    "Scope",
    "acting",
    "placeholders",
    "render",
    "render_value",
    "route_of",
]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}")
Scope = Mapping[str, Any]


def acting(role: str, values: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The acting user's part of a scope: its variables under `user` (every role's generic
    alias) and under its role's own name, so a `customer` role's steps read
    `{{customer.username}}`. Role names never shadow another scope name (the profile model
    refuses a role named like a resource, entity, relation or `owner`)."""
    return {"user": values, role: values}


def placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def lookup(name: str, scope: Scope) -> Any:
    head, *rest = name.split(".")
    if head == "env":
        if len(rest) != 1:
            raise ConfigError(f"placeholder {{{{{name}}}}} must be env.NAME", "name one variable")
        if rest[0] not in os.environ:
            raise ConfigError(
                f"the profile needs environment variable {rest[0]} ({{{{{name}}}}})",
                f"export {rest[0]}",
            )
        return os.environ[rest[0]]
    value: Any = scope
    walked: list[str] = []
    for part in (head, *rest):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
            walked.append(part)
            continue
        known = sorted(value) if isinstance(value, Mapping) else []
        where = ".".join(walked) or "the scope"
        hint = f"{where} has: {', '.join(map(str, known))}" if known else "check the profile"
        raise ConfigError(f"placeholder {{{{{name}}}}} has no value here", hint)
    return value


def render(text: str, scope: Scope) -> str:
    """Every placeholder in `text` replaced by its value, as text."""
    if "{{" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: str(lookup(m.group(1), scope)), text)


def render_value(value: Any, scope: Scope) -> Any:
    """Render strings inside any JSON-like value; a lone placeholder keeps its value's type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole is not None:
            return lookup(whole.group(1), scope)
        return render(value, scope)
    if isinstance(value, Mapping):
        return {render(str(k), scope): render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, scope) for v in value]
    return value


def route_of(method: str, path: str) -> str:
    """The route a templated path reports under, named as OpenAPI documents usually name it:
    `{{recording.id}}` -> `{recording_id}`, `{{book.book_title}}` -> `{book_title}`; no query."""
    bare = path.split("?", 1)[0]
    return f"{method.upper()} " + PLACEHOLDER.sub(_param, bare)


def _param(match: re.Match[str]) -> str:
    parts = match.group(1).split(".")
    name = f"{parts[-2]}_id" if parts[-1] == "id" and len(parts) > 1 else parts[-1]
    return "{" + name + "}"
