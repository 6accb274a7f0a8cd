"""Routes from a HAR file: the traffic a QA engineer recorded in their browser's devtools.

Only GET requests to the target's origin are kept; id-like path segments become `{id}`
(`/api/patients/17/activity` -> `GET /api/patients/{id}/activity`), so a route recorded with
the recorder's ids is read with the ids the run's users see. The file is read up to a bound,
and any problem is one line (a `ConfigError`), never a traceback.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.client.crawl import route_path, same_origin_path
from harness.errors import ConfigError

__all__ = ["MAX_HAR_BYTES", "har_routes", "read_har", "reads_yaml", "traffic_routes"]

MAX_HAR_BYTES = 64 << 20  # a HAR of a long session with media can be large; past this: refuse
_STATIC = (  # assets the page loads, not reads of data
    ".js",
    ".css",
    ".map",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".ico",
    ".woff",
    ".woff2",
)
_FIX = "export the HAR again from the browser's devtools (Network tab, 'Save all as HAR')"


def read_har(path: Path, limit: int = MAX_HAR_BYTES) -> list[dict[str, Any]]:
    """The entries of the HAR at `path`; one-line ConfigErrors for what is not one."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the HAR file {path}: {exc.strerror}", _FIX) from None
    if len(data) > limit:
        raise ConfigError(
            f"the HAR file {path} is larger than {limit >> 20} MiB",
            "record a shorter session, or leave out response bodies when saving it",
        )
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the HAR file {path} is not JSON ({type(exc).__name__})", _FIX) from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"the file {path} is not a HAR: it has no log.entries", _FIX)
    return [e for e in entries if isinstance(e, dict)]


def har_routes(entries: list[dict[str, Any]], origin: str | None = None) -> list[str]:
    """`GET /path/{id}` routes of the entries' same-origin GETs, most requested first. Without
    `origin`, the origin most entries went to is the target."""
    urls = []
    for entry in entries:
        request = entry.get("request")
        if not isinstance(request, dict) or str(request.get("method", "")).upper() != "GET":
            continue
        url = request.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            urls.append(url)
    if origin is None:
        origins = Counter(_origin(u) for u in urls)
        if not origins:
            return []
        origin = origins.most_common(1)[0][0]
    return traffic_routes(urls, origin)


def traffic_routes(urls: list[str], origin: str) -> list[str]:
    """`GET /path/{id}` routes of the GET `urls` (absolute) on `origin`, assets left out,
    most requested first: what a HAR or the browser suite's pages asked for."""
    counts: Counter[str] = Counter()
    for url in urls:
        path = same_origin_path(url, "/", origin.rstrip("/"))
        if path is None or path.split("?", 1)[0].lower().endswith(_STATIC):
            continue
        counts[f"GET {route_path(path)}"] += 1
    return [route for route, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def reads_yaml(routes: list[str], already: set[str]) -> str:
    """The routes as a profile's `reads:`, ready to paste. A route with an `{id}` cannot be
    a plain read: it is listed as a comment that says how to add it."""
    lines = ["reads:"]
    for route in routes:
        if route in already:
            continue
        path = route.split(" ", 1)[1]
        if "{" in path:
            lines.append(f"  # {route}: an `each:` read over the entity whose id fills {{id}}")
        else:
            lines.append(f"  - {{get: {json.dumps(path)}}}")
    if len(lines) == 1:
        return "reads: []  # every GET in the HAR is read already\n"
    return "\n".join(lines) + "\n"
