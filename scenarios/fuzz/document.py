"""The OpenAPI document the fuzz suite drives, and which of its operations it may send.

    profile discover.openapi ──► the document (a URL path on the target, or a file next to
                                  the profile)
    every operation ──► kept, or skipped with its reason:
        unsafe            the profile's `unsafe` routes and its reset steps (VAmPI's
                          `GET /createdb` wipes the database)
        harness's own     the profile's login steps and its staging support calls
        relational        a step of a flow with an `effect` (transfer, discharge, consent
                          withdrawal): sent by the fuzzer, it would change who may see what
                          behind the oracle's back, and every later read would be misjudged
        method            a method the run does not include (DELETE, PUT, PATCH by default)
    wrong-method probes ──► included methods only, and none that a kept path declares for an
                            operation that was skipped as unsafe

Nothing here sends a request except `load_document`, which reads the document itself.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.client.discovery import parse_document
from harness.errors import ConfigError
from harness.profile.model import TargetProfile
from harness.profile.template import route_of

__all__ = ["Plan", "Skipped", "load_document", "not_applicable", "plan_operations"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Methods Schemathesis can send as wrong-method probes (its `unexpected-methods` setting).
PROBE_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"})
_PARAM = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Skipped:
    route: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The document cut down to what may be sent, and what was left out and why."""

    document: dict[str, Any]  # a deep copy holding only the kept operations
    base_path: str  # the path of the document's first server ("" for the root)
    kept: tuple[str, ...]  # routes, with the base path: "GET /api/recordings/{recording_id}"
    skipped: tuple[Skipped, ...]
    probes: tuple[str, ...]  # methods for wrong-method probes


def not_applicable(profile: TargetProfile) -> str | None:
    """Why the fuzz suite cannot run on this profile, or None."""
    if profile.discover is None:
        return (
            f"not applicable: profile '{profile.name}' names no OpenAPI document "
            "(add discover: {openapi: /openapi.json} to it)"
        )
    return None


def load_document(where: str, base_url: str, profile_dir: Path) -> dict[str, Any]:
    """`where` is a URL path on the target ("/openapi.json") or a file next to the profile."""
    if where.startswith("/"):
        try:
            response = httpx.get(base_url.rstrip("/") + where, timeout=30.0)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot fetch the OpenAPI document {where} ({type(exc).__name__})",
                "check that the target serves it, or fix discover.openapi",
            ) from None
        if response.status_code != 200:
            raise ConfigError(
                f"the target answered {response.status_code} for its OpenAPI document {where}",
                "fix discover.openapi in the profile",
            )
        text, label = response.text, where
    else:
        path = profile_dir / where
        try:
            text, label = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot read the OpenAPI document {path}: {exc.strerror}",
                "fix discover.openapi (a URL path on the target, or a file next to the profile)",
            ) from None
    return copy.deepcopy(dict(parse_document(text, label)))


def base_path(document: Mapping[str, Any]) -> str:
    servers = document.get("servers") or []
    if servers and isinstance(servers[0], Mapping):
        return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    return ""


def own_routes(profile: TargetProfile) -> list[str]:
    """Routes the harness itself calls to log in, reset and seed: never fuzzed."""
    steps = [*profile.auth.login, *profile.reset]
    for role in profile.roles.values():
        steps += [s for s in role.create if s.auth == "support"]
    for relation in profile.relations.values():
        steps += [s for s in relation.create if s.auth == "support"]
    for resource in profile.resources.values():
        if resource.as_ == "support":
            steps += resource.create
    return sorted({route_of(s.method, s.path) for s in steps})


def relational_routes(profile: TargetProfile) -> list[str]:
    """Routes of flows that change visibility: only the scenarios that record the change in the
    time-versioned ownership model may send them."""
    steps = [s for flow in profile.flows.values() if flow.effect is not None for s in flow.steps]
    return sorted({route_of(s.method, s.path) for s in steps})


def _pattern(route: str) -> str:
    """A profile route as an fnmatch pattern: any path parameter matches any parameter."""
    return _PARAM.sub("*", route)


def _matches(route: str, patterns: Iterable[str]) -> bool:
    bare = _PARAM.sub("*", route)
    return any(fnmatch.fnmatchcase(bare, p) or fnmatch.fnmatchcase(route, p) for p in patterns)


def plan_operations(
    document: Mapping[str, Any], profile: TargetProfile, methods: Sequence[str]
) -> Plan:
    base = base_path(document)
    unsafe = [
        _pattern(p) for p in (*profile.unsafe, *(route_of(s.method, s.path) for s in profile.reset))
    ]
    own = [_pattern(p) for p in own_routes(profile)]
    relational = [_pattern(p) for p in relational_routes(profile)]
    included = {m.upper() for m in methods}
    kept_doc = copy.deepcopy(dict(document))
    paths: dict[str, Any] = {}
    kept: list[str] = []
    skipped: list[Skipped] = []
    blocked: set[str] = set()  # methods skipped as unsafe on a path that stays
    for raw_path, item in sorted(dict(document.get("paths") or {}).items()):
        if not isinstance(item, Mapping):
            continue
        keep_item = {k: v for k, v in item.items() if k not in HTTP_METHODS}
        refused: set[str] = set()
        for method in (m for m in HTTP_METHODS if isinstance(item.get(m), Mapping)):
            route = f"{method.upper()} {base}{raw_path}"
            reason = _why_not(route, method.upper(), unsafe, own, relational, included)
            if reason is None:
                keep_item[method] = copy.deepcopy(item[method])
                kept.append(route)
            else:
                skipped.append(Skipped(route, reason))
                if reason != "method":
                    refused.add(method.upper())
        if any(m in keep_item for m in HTTP_METHODS):
            paths[raw_path] = keep_item
            blocked |= refused
    kept_doc["paths"] = paths
    probes = tuple(sorted((included & PROBE_METHODS) - blocked))
    return Plan(kept_doc, base, tuple(kept), tuple(_explain(skipped, included)), probes)


def _why_not(
    route: str,
    method: str,
    unsafe: list[str],
    own: list[str],
    relational: list[str],
    included: set[str],
) -> str | None:
    if _matches(route, unsafe):
        return "unsafe"
    if _matches(route, own):
        return "own"
    if _matches(route, relational):
        return "relational"
    if method not in included:
        return "method"
    return None


def _explain(skipped: list[Skipped], included: set[str]) -> list[Skipped]:
    text = {
        "unsafe": "never sent: the profile lists it as unsafe (or it resets the target)",
        "own": "never sent: the harness's own login, reset or staging support call",
        "relational": "never sent: a flow's step that changes who may see what (the scenarios "
        "that drive it record the change; fuzzed, it would go unrecorded)",
        "method": f"never sent: its method is not in fuzz_methods ({', '.join(sorted(included))})",
    }
    return [Skipped(s.route, text[s.reason]) for s in skipped]
