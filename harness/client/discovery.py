"""Reads discovered from the app's OpenAPI document, and the values that fill them.

Every GET operation becomes a read, unless the profile reads it explicitly, lists it as unsafe
or excluded, or it is one of the profile's own login/reset/support calls. Path parameters (and
required query parameters) are filled from values the run has observed, as Schemathesis fills
them from earlier responses: ids of entities the user has seen, and values under the same name
in any JSON the user received or any field of their own resources. A route whose parameters
cannot be filled is skipped and reported in the coverage plan, never guessed.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from harness.errors import ConfigError

__all__ = ["Discovered", "RouteTable", "ValuePool", "discovered_routes", "parse_document"]

_PARAM = re.compile(r"\{([^}/]+)\}")
_POOL_CAP = 64


@dataclass(frozen=True, slots=True)
class Discovered:
    """One GET route from the document, with what it needs filled."""

    route: str  # "GET /api/recordings/{id}"
    path: str  # "/api/recordings/{id}" (with the document's base path)
    params: tuple[str, ...]  # path parameters, in order
    query: tuple[str, ...] = ()  # required query parameters

    def fill(self, values: Mapping[str, str]) -> str:
        path = _PARAM.sub(lambda m: quote(str(values[m.group(1)]), safe=""), self.path)
        if self.query:
            path += "?" + urlencode({name: values[name] for name in self.query})
        return path


def parse_document(text: str, where: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"the OpenAPI document at {where} does not parse ({type(exc).__name__})",
            "point discover.openapi at the app's OpenAPI JSON or YAML",
        ) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("paths"), Mapping):
        raise ConfigError(
            f"the document at {where} has no `paths`", "point discover.openapi at an OpenAPI 3 doc"
        )
    return document


def discovered_routes(
    document: Mapping[str, Any], skip: Iterable[str], exclude: Iterable[str]
) -> list[Discovered]:
    """Every GET operation not explicitly read, excluded or unsafe (fnmatch on the route)."""
    base = _base_path(document)
    skipped, patterns = set(skip), list(exclude)
    found: list[Discovered] = []
    for raw_path, item in sorted(document["paths"].items()):
        if not isinstance(item, Mapping) or not isinstance(item.get("get"), Mapping):
            continue
        path = base + str(raw_path)
        route = f"GET {path}"
        if route in skipped or any(fnmatch.fnmatchcase(route, p) for p in patterns):
            continue
        params = [*item.get("parameters", []), *item["get"].get("parameters", [])]
        query = tuple(
            str(p["name"])
            for p in params
            if isinstance(p, Mapping) and p.get("in") == "query" and p.get("required")
        )
        found.append(Discovered(route, path, tuple(_PARAM.findall(path)), query))
    return found


def _base_path(document: Mapping[str, Any]) -> str:
    servers = document.get("servers") or []
    if servers and isinstance(servers[0], Mapping):
        return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    return ""


class RouteTable:
    """Concrete path -> route template, for requests whose path came from a capture."""

    def __init__(self, routes: Iterable[str]) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for route in routes:
            method, _, path = route.partition(" ")
            regex = (
                "^"
                + _PARAM.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
                + "$"
            )
            self._patterns.append((re.compile(regex), f"{method} {path}"))
        # Literal segments beat parameters: /api/me/recordings before /api/me/{id}.
        self._patterns.sort(key=lambda p: p[1].count("{"))

    def route(self, method: str, path: str) -> str | None:
        bare = path.split("?", 1)[0]
        for pattern, route in self._patterns:
            if route.startswith(method + " ") and pattern.match(bare):
                return route
        return None


@dataclass
class ValuePool:
    """Values one user has observed, by name, their own first."""

    values: dict[str, list[str]] = field(default_factory=dict)
    entities: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: Any, own: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            return
        text = str(value)
        if not text or len(text) > 256:
            return
        bucket = self.values.setdefault(name, [])
        if text in bucket:
            return
        if own:
            bucket.insert(0, text)
        elif len(bucket) < _POOL_CAP:
            bucket.append(text)

    def add_entity(self, kind: str, ident: str, own: bool) -> None:
        bucket = self.entities.setdefault(kind, [])
        if ident in bucket or not ident:
            return
        if own:
            bucket.insert(0, ident)
        elif len(bucket) < _POOL_CAP:
            bucket.append(ident)

    def harvest(self, body: bytes) -> None:
        """Every scalar under a key, anywhere in a JSON body."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return
        for key, value in _scalars(document):
            self.add(key, value)

    def candidates(self, param: str, segment: str, loose: bool = False) -> list[str]:
        """Values for `{param}` that follows path segment `segment` ("recordings"). `loose`:
        an `{id}` the harness named itself (a recorded or crawled path's id-like segment)
        may also take any value seen under `id`, the user's own first."""
        singular = segment[:-1] if segment.endswith("s") else segment
        names = [param]
        if param == "id":
            if singular in self.entities:
                return list(self.entities[singular])
            names = [f"{singular}_id"]
        elif param.endswith("_id") and param[:-3] in self.entities:
            return list(self.entities[param[:-3]])
        if loose and param == "id":
            names.append("id")
        for name in names:
            if name in self.values:
                return list(self.values[name])
        return []

    def fillings(self, route: Discovered, limit: int, loose: bool = False) -> list[str]:
        """Up to `limit` concrete paths for `route`; [] when a parameter has no value."""
        options: list[list[tuple[str, str]]] = []
        for name, segment in _segments(route.path):
            values = self.candidates(name, segment, loose)
            if not values:
                return []
            options.append([(name, v) for v in values[:limit]])
        for name in route.query:
            values = self.values.get(name, [])
            if not values:
                return []
            options.append([(name, v) for v in values[:limit]])
        combos = itertools.islice(itertools.product(*options), limit)
        return [route.fill(dict(combo)) for combo in combos]


def _segments(path: str) -> Iterator[tuple[str, str]]:
    previous = ""
    for segment in path.strip("/").split("/"):
        match = _PARAM.fullmatch(segment)
        if match:
            yield match.group(1), previous
        else:
            previous = segment


def _scalars(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _scalars(item, str(name))
    elif isinstance(value, list):
        for item in value[:_POOL_CAP]:
            yield from _scalars(item, key)
    elif key:
        yield key, value
