"""Planted data as example values, so that generated requests reach real, owned data.

    world (every actor's and resource's fields and captured ids)  ┐
    journal (every id, list item and value earlier reads returned) ┴─► ValuePool
    ValuePool ──► each path/query parameter and top-level JSON body property, by name
              ──► its `examples` in the document Schemathesis loads

Names match as discovery fills routes: `{recording_id}` takes the ids of recordings seen in
lists, `{id}` after `/books` takes book ids, any other name takes values seen under that name.
A value holding a canary is never used: a request that carried someone's canary could have it
echoed back, and the echo would look like a leak. Values are cast to the parameter's type;
a parameter with an `enum` keeps its own values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.client.discovery import ValuePool
from harness.matcher import CanaryMatcher
from harness.models import Observation
from harness.oracles import ListingParser
from harness.world import World

__all__ = ["EXAMPLES_PER_VALUE", "inject_examples", "value_pool"]

EXAMPLES_PER_VALUE = 12  # examples per parameter: the examples phase sends about this many
_JSON = "application/json"


def value_pool(world: World, journal: Iterable[Observation], listing: ListingParser) -> ValuePool:
    pool = ValuePool()
    for actor in world.actors.values():
        for name, value in actor.vars.items():
            pool.add(name, value, own=True)
    for resource in world.resources:
        for name, value in resource.vars.items():
            pool.add(name, value, own=True)
    for obs in journal:
        if obs.status != 200:
            continue
        if "json" in obs.content_type:
            pool.harvest(obs.body)
        found = listing(obs)
        if found is not None:
            for ident in found.ids:
                pool.add_entity(found.kind, ident, own=True)
    _add_query_values(pool)
    return pool


def _add_query_values(pool: ValuePool) -> None:
    """A captured URL ("/media?token=...") also offers its query values under their names."""
    for values in list(pool.values.values()):
        for value in list(values):
            if "?" in value and value.startswith(("/", "http")):
                for name, item in parse_qsl(urlsplit(value).query):
                    pool.add(name, item, own=True)


def inject_examples(
    document: MutableMapping[str, Any], pool: ValuePool, matcher: CanaryMatcher
) -> int:
    """Give matching parameters and body properties examples; returns how many got some."""
    given = 0
    for raw_path, item in (document.get("paths") or {}).items():
        if not isinstance(item, MutableMapping):
            continue
        shared = item.get("parameters") or []
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, MutableMapping):
                continue
            for parameter in [*shared, *(operation.get("parameters") or [])]:
                given += _parameter(document, str(raw_path), parameter, pool, matcher)
            given += _body(document, operation, pool, matcher)
    return given


def _parameter(
    document: Mapping[str, Any],
    path: str,
    raw: Any,
    pool: ValuePool,
    matcher: CanaryMatcher,
) -> int:
    parameter = _resolve(document, raw)
    where = parameter.get("in")
    if where not in ("path", "query") or not isinstance(parameter.get("name"), str):
        return 0
    name = parameter["name"]
    segment = _segment_before(path, name) if where == "path" else ""
    schema = _resolve(document, parameter.get("schema") or {})
    values = _typed(pool.candidates(name, segment), schema, matcher)
    if not values:
        return 0
    parameter.pop("example", None)
    parameter["examples"] = {f"chaperone-{i}": {"value": v} for i, v in enumerate(values)}
    return 1


def _body(
    document: Mapping[str, Any],
    operation: Mapping[str, Any],
    pool: ValuePool,
    matcher: CanaryMatcher,
) -> int:
    body = _resolve(document, operation.get("requestBody") or {})
    media = (body.get("content") or {}).get(_JSON)
    if not isinstance(media, Mapping):
        return 0
    schema = _resolve(document, media.get("schema") or {})
    given = 0
    for name, raw in (schema.get("properties") or {}).items():
        prop = _resolve(document, raw)
        values = _typed(pool.values.get(str(name), []), prop, matcher)
        if values:
            prop["examples"] = values
            given += 1
    return given


def _segment_before(path: str, name: str) -> str:
    previous = ""
    for segment in path.strip("/").split("/"):
        if segment == "{" + name + "}":
            return previous
        if not segment.startswith("{"):
            previous = segment
    return ""


def _resolve(document: Mapping[str, Any], value: Any) -> MutableMapping[str, Any]:
    """Follow a local `$ref` (the target is changed in place, which is what we want)."""
    seen = 0
    while isinstance(value, Mapping) and isinstance(value.get("$ref"), str) and seen < 16:
        ref = value["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        value, seen = target, seen + 1
    return value if isinstance(value, MutableMapping) else {}


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(t) for t in declared}
    found: set[str] = set()
    for option in schema.get("anyOf") or schema.get("oneOf") or []:
        if isinstance(option, Mapping):
            found |= _types(option)
    return found


def _typed(candidates: list[str], schema: Mapping[str, Any], matcher: CanaryMatcher) -> list[Any]:
    """Values the parameter accepts, without canaries, spread over the candidates."""
    if "enum" in schema or "const" in schema:
        return []
    types = _types(schema) - {"null"}
    limit = schema.get("maxLength")
    usable: list[Any] = []
    for text in dict.fromkeys(candidates):
        if matcher.scan(text.encode()):
            continue
        value = _cast(text, types)
        if value is None or (isinstance(limit, int) and len(text) > limit):
            continue
        usable.append(value)
    if len(usable) <= EXAMPLES_PER_VALUE:
        return usable
    step = len(usable) / EXAMPLES_PER_VALUE
    return [usable[int(i * step)] for i in range(EXAMPLES_PER_VALUE)]


def _cast(text: str, types: set[str]) -> Any:
    if not types or "string" in types:
        return text
    if "integer" in types:
        return int(text) if text.lstrip("-").isdigit() else None
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            return None
    return None
