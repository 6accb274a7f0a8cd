"""Routes a user can reach that nobody named: the links in what the user received.

Every answer a user got is searched for the places a browser or a program would go next:
HTML `a[href]`, the action of a GET form, every `src` attribute, the `Location`, `Link` and
`Content-Location` headers, and URL- or path-like strings anywhere in a JSON body. A link is
kept only on the target's origin (same scheme, host and port; relative links resolve against
the page they were on), never to a route the profile calls unsafe, and only within the run's
bounds (`Crawl`), so the cost of a crawl is fixed whatever the app links to.

A concrete path is named by its route with id-like segments (numbers, UUIDs, long hex)
replaced by `{id}`: `/profile/summary/17` reports under `GET /profile/summary/{id}`, so the
access suite groups it and the report names it the way a user would add it to the profile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from harness.models import Observation

__all__ = ["Crawl", "links", "route_path", "same_origin_path"]

_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{24,})$"
)
# A path-like JSON string: starts with "/" and a path character, no spaces; or an http(s) URL.
_PATHLIKE = re.compile(r"^(?:/[A-Za-z0-9_.~-][^\s<>\"']*|https?://[^\s<>\"']+)$")
_LINK_HEADER = re.compile(r"<([^>]*)>")
_MAX_BODY = 1 << 20  # links are looked for in a body's first MiB
_MAX_LINKS = 256  # links kept from one answer
_MAX_JSON_STRINGS = 4096
# Answers whose links are remembered. The access suite receives the same page or list many
# times over (each replay, each seed's look), and parsing it again was most of the crawl's CPU.
_LINKS_REMEMBERED = 256
_REMEMBER_BODY = 64 << 10  # larger answers are parsed each time, not kept


@lru_cache(maxsize=8192)
def route_path(path: str) -> str:
    """`/api/x/17/y?q=1` -> `/api/x/{id}/y`: the route a concrete path reports under."""
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in bare.split("/")]
    return "/".join(segments)


@lru_cache(maxsize=8192)  # pure; the same links recur on every answer of a route
def same_origin_path(link: str, page: str, origin: str) -> str | None:
    """The path and query `link` (found on `page`, a path or URL) leads to, when it stays on
    `origin` ("http://127.0.0.1:8000"); None when it leaves it or is not a web link."""
    link = link.strip()
    if not link or link.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    base = urlsplit(origin)
    page_url = urljoin(origin + "/", page)
    target = urlsplit(urljoin(page_url, link))
    if target.scheme.lower() != base.scheme.lower():
        return None
    if (target.hostname or "").lower() != (base.hostname or "").lower():
        return None
    if _port(target.scheme, target.port) != _port(base.scheme, base.port):
        return None
    base_path = base.path.rstrip("/")
    if base_path and not (target.path == base_path or target.path.startswith(base_path + "/")):
        return None
    path = target.path[len(base_path) :] or "/"
    return urlunsplit(("", "", path, target.query, ""))


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(scheme.lower())


def links(obs: Observation) -> list[str]:
    """Every link-like string in one answer, as written (headers first, then the body)."""
    headers = (obs.header("location"), obs.header("content-location"), obs.header("link"))
    kind = obs.content_type.lower()
    body = obs.body[:_MAX_BODY] if ("html" in kind or "json" in kind) else b""
    # Remembered by everything the result is computed from, the whole body included: an
    # answer that differs in one byte is parsed afresh. Only small answers are remembered, so
    # the memo holds at most _LINKS_REMEMBERED x _REMEMBER_BODY bytes of bodies (16 MiB).
    if len(body) > _REMEMBER_BODY:
        return list(_links.__wrapped__(kind, headers, body))
    return list(_links(kind, headers, body))


@lru_cache(maxsize=_LINKS_REMEMBERED)
def _links(kind: str, headers: tuple[str | None, ...], body: bytes) -> tuple[str, ...]:
    location, content_location, link_header = headers
    found: list[str] = [value for value in (location, content_location) if value]
    if link_header:
        found += _LINK_HEADER.findall(link_header)
    if "html" in kind:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        parser.close()
        found += parser.found
    elif "json" in kind:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None
        found += [s for s in _strings(document) if _PATHLIKE.match(s)]
    return tuple(dict.fromkeys(found))[:_MAX_LINKS]


def _strings(value: Any) -> Iterator[str]:
    stack, seen = [value], 0
    while stack and seen < _MAX_JSON_STRINGS:
        item = stack.pop()
        if isinstance(item, str):
            seen += 1
            yield item
        elif isinstance(item, dict):
            stack += reversed(list(item.values()))
        elif isinstance(item, list):
            stack += reversed(item)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag in ("a", "area", "link") and values.get("href"):
            if tag == "link" and "stylesheet" in values.get("rel", "").lower():
                return
            self.found.append(values["href"])
        elif tag == "form" and values.get("method", "get").lower() == "get":
            self.found.append(values.get("action") or "")
        if values.get("src"):
            self.found.append(values["src"])

    handle_startendtag = handle_starttag


@dataclass
class Crawl:
    """One run's crawl: which routes it found, from where, and what its bounds cut.

    `known(path)`: a path on a route the profile or the OpenAPI document already reads (not
    the crawl's to read); `unsafe(route)`: never requested (asked of the templated route and
    of the concrete path). Bounds: at most `max_routes` new
    routes and `max_requests` requests in a run; what they cut is counted, never read.
    """

    origin: str
    known: Callable[[str], bool]
    unsafe: Callable[[str], bool]
    max_routes: int = 40
    max_requests: int = 400
    per_route: int = 4  # concrete paths of one route read per user
    routes: dict[str, str] = field(default_factory=dict)  # route -> source (crawl, browser, har)
    requests: int = 0
    cut: int = 0  # links the bounds left unread
    off_origin: int = 0
    refused: int = 0  # links to unsafe routes, never requested

    def candidates(self, obs: Observation, done: set[str]) -> list[tuple[str, str]]:
        """(path, route) pairs worth reading from one answer, not yet read by this user."""
        if obs.status >= 400 or obs.status == 0:
            return []
        out: list[tuple[str, str]] = []
        for link in links(obs):
            path = same_origin_path(link, obs.url, self.origin)
            if path is None:
                self.off_origin += 1
                continue
            route = f"GET {route_path(path)}"
            if path in done or any(path == p for p, _ in out):
                continue
            if self.unsafe(route) or self.unsafe(f"GET {path.split('?', 1)[0]}"):
                self.refused += 1
                continue
            if self.known(path) or route == obs.endpoint:
                continue
            out.append((path, route))
        return out

    def admit(self, route: str, source: str, already: int) -> bool:
        """May one more path of `route` be read (`already` of them read by this user)?"""
        if already >= self.per_route:
            return False
        if route not in self.routes and len(self.routes) >= self.max_routes:
            self.cut += 1
            return False
        if self.requests >= self.max_requests:
            self.cut += 1
            return False
        self.routes.setdefault(route, source)
        self.requests += 1
        return True
