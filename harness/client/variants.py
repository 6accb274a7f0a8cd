"""Request shapes: the variants of one read that a server may answer by another path.

A leak can hide behind a request shape the suites never send: a trailing slash routed to an
older handler, an `Accept` that picks another renderer, a query value unlike the profile's one
example (a page past the last, a number past its bound, a long string). Each read the owner
makes is also sent in a few of these, chosen here: seeded (the same read in the same run gets
the same variants) and bounded (`limit`). No I/O: the reader sends them (harness.client.reads).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "ACCEPTS",
    "LIMIT",
    "Variant",
    "is_variant",
    "offered_types",
    "variant_route",
    "variants",
]

# What a route may render besides its default, when nothing says what it offers.
ACCEPTS = ("application/json", "text/csv", "application/pdf", "text/html")
LIMIT = 6
_STRING_LENGTHS = (1, 12, 256)
_PAST_LAST_PAGE = 9999


@dataclass(frozen=True, slots=True)
class Variant:
    """One shape of a read: `kind` is what its coverage is counted under (slash, accept,
    query), `label` the variant in words."""

    kind: str
    label: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


def variant_route(route: str, kind: str) -> str:
    """The route a variant's coverage and findings are counted under."""
    return f"{route} (variant: {kind})"


def is_variant(route: str) -> bool:
    return route.endswith(")") and " (variant: " in route


def variants(
    path: str,
    *,
    seed: int,
    offered: Sequence[str] = (),
    seen: Mapping[str, Iterable[str]] | None = None,
    limit: int = LIMIT,
) -> list[Variant]:
    """At most `limit` variants of GET `path`: with the trailing slash toggled, under each
    `Accept` the route offers (`offered`, else the common ones), and with each query parameter
    varied (by its value's type, and from `seen`: values other users sent). The slash and the
    first `Accept` always come first; the rest are a seeded sample, in a stable order."""
    parts = urlsplit(path)
    query = parse_qsl(parts.query, keep_blank_values=True)
    candidates = [_slash(parts.path, parts.query)]
    accepts = [a for a in dict.fromkeys(offered or ACCEPTS) if a != "*/*"]
    candidates += [Variant("accept", f"Accept: {a}", path, {"Accept": a}) for a in accepts]
    for index, (name, value) in enumerate(query):
        for label, new in _values(name, value, seen.get(name, ()) if seen else ()):
            changed = [*query[:index], (name, new), *query[index + 1 :]]
            candidates.append(Variant("query", label, f"{parts.path}?{urlencode(changed)}"))
    fixed, rest = candidates[:2], candidates[2:]
    rng = random.Random(f"{seed}:{path}")
    picked = rng.sample(rest, min(len(rest), max(limit - len(fixed), 0)))
    chosen = fixed[:limit] + sorted(picked, key=rest.index)
    return _unique(chosen, path)


def _slash(route_path: str, query: str) -> Variant:
    toggled = route_path[:-1] if route_path.endswith("/") and route_path != "/" else route_path
    if toggled == route_path:
        toggled = route_path + "/"
    label = "without trailing slash" if route_path.endswith("/") else "with trailing slash"
    return Variant("slash", label, toggled + (f"?{query}" if query else ""))


def _values(name: str, value: str, seen: Iterable[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if value.lstrip("-").isdigit():
        number = int(value)
        out += [
            (f"{name} at 0", "0"),
            (f"{name} negative", "-1"),
            (f"{name} past its bound", str(max(number, 1) * 100 + 1)),
            (f"{name} past the last page", str(_PAST_LAST_PAGE)),
        ]
    else:
        rng = random.Random(f"{name}:{value}")
        for length in _STRING_LENGTHS:
            text = "".join(rng.choices(string.ascii_letters, k=length))
            out.append((f"{name} of {length} chars", text))
        out.append((f"{name} empty", ""))
    for other in sorted(set(seen) - {value})[:2]:
        out.append((f"{name} as another user sent it", other))
    return [(label, new) for label, new in out if new != value]


def _unique(chosen: list[Variant], original: str) -> list[Variant]:
    """Each request once, none the read itself."""
    done: set[tuple[str, tuple[tuple[str, str], ...]]] = {(original, ())}
    out = []
    for variant in chosen:
        key = (variant.path, tuple(sorted(variant.headers.items())))
        if key not in done:
            done.add(key)
            out.append(variant)
    return out


def offered_types(document: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The content types each GET route of an OpenAPI document answers in (its 2xx responses'
    `content`), by route ("GET /path/{id}"): the `Accept`s its variants try."""
    offers: dict[str, tuple[str, ...]] = {}
    paths = document.get("paths")
    for path, item in paths.items() if isinstance(paths, Mapping) else ():
        get = item.get("get") if isinstance(item, Mapping) else None
        responses = get.get("responses") if isinstance(get, Mapping) else None
        types: list[str] = []
        for status, response in responses.items() if isinstance(responses, Mapping) else ():
            content = response.get("content") if isinstance(response, Mapping) else None
            if str(status).startswith("2") and isinstance(content, Mapping):
                types += [str(t) for t in content]
        if types:
            offers[f"GET {path}"] = tuple(dict.fromkeys(types))
    return offers
