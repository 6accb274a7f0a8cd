"""Lists, as the profile describes them: which response lists which entities and whose they
are, and how a list continues onto its next page.

Built from the World alone (its embedded profile), so a Locust worker parses lists exactly as
the harness does. One module holds this logic; nothing keeps a copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from harness.models import Observation
from harness.oracles.context import Listing, ListingParser
from harness.profile.model import EntitySpec, PageSpec, TargetProfile
from harness.profile.steps import json_pointer
from harness.world import World

__all__ = ["Entity", "EntityParser", "base_route", "listing_parser", "next_page", "page_route"]

_PAGE_SUFFIX = re.compile(r" \(page \d+\)$")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_A_NEXT = re.compile(
    r"<a\b[^>]*?(?:rel=\"next\"[^>]*?href=\"([^\"]+)\"|href=\"([^\"]+)\"[^>]*?rel=\"next\")",
    re.IGNORECASE,
)


def base_route(endpoint: str) -> str:
    """The route without the page suffix the walker adds to later pages."""
    return _PAGE_SUFFIX.sub("", endpoint)


def page_route(route: str, page: int) -> str:
    return route if page <= 1 else f"{route} (page {page})"


@dataclass(frozen=True, slots=True)
class Entity:
    """One item a list showed: its kind, id, owner (None: nobody we seeded) and its fields."""

    kind: str
    id: str
    owner: str | None
    item: Mapping[str, Any] = field(compare=False, hash=False)


class EntityParser:
    """Parses entity lists for one world. Several oracles ask about the same observation in
    a row, so the last parse is cached."""

    def __init__(self, profile: TargetProfile, world: World) -> None:
        self.world = world
        self._by_route: dict[str, tuple[str, EntitySpec]] = {}
        for kind, spec in profile.entities.items():
            for route in spec.lists:
                self._by_route[route] = (kind, spec)
        self._owner_of: dict[tuple[str, str], str] = {}
        for spec in profile.entities.values():
            if spec.owner is not None:
                var = spec.owner.var
                for actor in world.actors.values():
                    if var in actor.vars:
                        self._owner_of[(var, str(actor.vars[var]))] = actor.id
        self._last: tuple[Observation, list[Entity] | None] | None = None
        # Without a reset the app keeps users and data no run of ours seeded (earlier runs',
        # real ones): they belong to nobody in the ownership model, so a list item whose owner
        # we do not know is neither a leak nor part of a count there.
        self.closed = bool(profile.reset)

    def spec_for(self, endpoint: str) -> tuple[str, EntitySpec] | None:
        return self._by_route.get(base_route(endpoint))

    def entities(self, obs: Observation) -> list[Entity] | None:
        """The entities `obs` lists, or None when it is not a (successful, parsable) list."""
        if self._last is not None and self._last[0] is obs:
            return self._last[1]
        parsed = self._parse(obs)
        self._last = (obs, parsed)
        return parsed

    def _parse(self, obs: Observation) -> list[Entity] | None:
        found = self.spec_for(obs.endpoint)
        if found is None or obs.status != 200:
            return None
        kind, spec = found
        try:
            items = json_pointer(json.loads(obs.body), spec.items)
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        if not isinstance(items, list):
            return None
        return [self._entity(kind, spec, item) for item in items if isinstance(item, Mapping)]

    def _entity(self, kind: str, spec: EntitySpec, item: Mapping[str, Any]) -> Entity:
        try:
            ident = str(json_pointer(item, spec.id))
        except (KeyError, IndexError, TypeError, ValueError):
            ident = ""
        owner = None
        if spec.owner is not None:
            try:
                value = str(json_pointer(item, spec.owner.field))
                owner = self._owner_of.get((spec.owner.var, value))
            except (KeyError, IndexError, TypeError, ValueError):
                owner = None
        return Entity(kind, ident, owner, item)

    def listing(self, obs: Observation) -> Listing | None:
        entities = self.entities(obs)
        if entities is None:
            return None
        kind, spec = self.spec_for(obs.endpoint) or ("", None)
        if spec is None or spec.owner is None:
            return None
        complete = base_route(obs.endpoint) == obs.endpoint and not _has_next(obs)
        if not self.closed:
            entities = [e for e in entities if e.owner is not None]
        return Listing(
            kind=kind,
            owners=tuple(e.owner for e in entities),
            ids=tuple(e.id for e in entities),
            exact=spec.exact,
            complete=complete,
        )


def listing_parser(world: World) -> ListingParser:
    """The listing parser for `world`, from the profile embedded in it."""
    if not world.profile:
        return lambda obs: None
    parser = EntityParser(TargetProfile.model_validate(world.profile), world)
    return parser.listing


def _has_next(obs: Observation) -> bool:
    link = obs.header("link") or ""
    if _LINK_NEXT.search(link):
        return True
    try:
        document = json.loads(obs.body)
    except (ValueError, UnicodeDecodeError):
        return False
    if isinstance(document, Mapping):
        return bool(document.get("next") or document.get("next_cursor"))
    return False


def next_page(obs: Observation, spec: PageSpec, items: int | None, page: int) -> str | None:
    """The path of the page after `obs`, or None at the end of the list."""
    if spec.next == "link-header":
        match = _LINK_NEXT.search(obs.header("link") or "")
        return _path(match.group(1)) if match else None
    if spec.next == "html":
        match = _A_NEXT.search(obs.body.decode("utf-8", "replace"))
        return _path(match.group(1) or match.group(2)) if match else None
    document = _json(obs.body)
    if spec.next == "json":
        value = _pointer(document, spec.pointer or "/next")
        return _path(str(value)) if value else None
    if spec.next == "cursor":
        token = _pointer(document, spec.pointer or "/next_cursor")
        return _with_param(obs.url, spec.param or "cursor", str(token)) if token else None
    if not items:
        return None  # page and offset lists end at the first empty page
    if spec.next == "page":
        return _with_param(obs.url, spec.param or "page", str(page + 1))
    current = int(dict(_query(obs.url)).get(spec.param or "offset", "0") or 0)
    return _with_param(obs.url, spec.param or "offset", str(current + items))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _pointer(document: Any, pointer: str) -> Any:
    try:
        return json_pointer(document, pointer)
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in _query(url) if k != name] + [(name, value)]
    return parts.path + "?" + urlencode(query)
