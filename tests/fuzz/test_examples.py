"""Planted data becomes example values where names match, and never a canary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness.matcher import CanaryMatcher
from harness.models import Observation
from harness.oracles import Listing
from scenarios.fuzz.examples import EXAMPLES_PER_VALUE, inject_examples, value_pool
from tests.fuzz.worlds import clinic_document, clinic_profile, memory_world


def _list(ids: list[int]) -> Observation:
    body = json.dumps({"items": [{"id": i, "patient_id": 100} for i in ids], "page": 1})
    return Observation(
        actor="p0",
        step="look",
        method="GET",
        url="/api/me/recordings",
        endpoint="GET /api/me/recordings",
        status=200,
        headers=(),
        body=body.encode(),
        time=time.time(),
        content_type="application/json",
    )


def _listing(obs: Observation) -> Listing | None:
    if obs.endpoint != "GET /api/me/recordings":
        return None
    ids = tuple(str(item["id"]) for item in json.loads(obs.body)["items"])
    return Listing("recording", tuple("p0" for _ in ids), ids)


def _examples(parameter: dict[str, Any]) -> list[Any]:
    return [e["value"] for e in parameter.get("examples", {}).values()]


def _parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_ids_seen_in_lists_and_planted_ids_fill_the_clinic_parameters(tmp_path: Path) -> None:
    world = memory_world(clinic_profile())
    document = clinic_document(tmp_path)
    pool = value_pool(world, [_list([41, 42, 43])], _listing)
    given = inject_examples(document, pool, CanaryMatcher(world.ownership.canaries))
    assert given >= 3
    recording = _parameter(document, "/api/recordings/{recording_id}", "get", "recording_id")
    assert sorted(_examples(recording)) == [41, 42, 43]  # integers, as the schema says
    call = _parameter(
        document, "/api/consultations/{consultation_id}/join", "post", "consultation_id"
    )
    planted = {r.vars["consultation_id"] for r in world.resources}
    assert set(_examples(call)) <= planted and _examples(call)


def test_a_value_holding_a_canary_is_never_an_example() -> None:
    world = memory_world(clinic_profile())
    matcher = CanaryMatcher(world.ownership.canaries)
    canary = world.ownership.canaries[0].value
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/search": {
                "get": {
                    "parameters": [
                        {"name": "notes", "in": "query", "schema": {"type": "string"}},
                        {"name": "username", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {},
                }
            }
        },
    }
    pool = value_pool(world, [], lambda obs: None)
    pool.add("notes", f"my {canary} notes", own=True)
    inject_examples(document, pool, matcher)
    notes, username = document["paths"]["/search"]["get"]["parameters"]
    assert "examples" not in notes  # every notes value is someone's canary
    usernames = {str(a.vars["username"]) for a in world.actors.values()}
    assert set(_examples(username)) <= usernames and _examples(username)


def test_examples_respect_enums_types_refs_and_bodies() -> None:
    world = memory_world(clinic_profile())
    pool = value_pool(world, [], lambda obs: None)
    for value in ("video", "17", "x" * 300):
        pool.add("mode", value, own=True)
        pool.add("size", value, own=True)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "components": {
            "parameters": {"Size": {"name": "size", "in": "query", "schema": {"type": "integer"}}},
            "schemas": {
                "Body": {
                    "type": "object",
                    "properties": {
                        "mode": {"type": "string", "maxLength": 10},
                        "kind": {"enum": ["a", "b"]},
                    },
                }
            },
        },
        "paths": {
            "/x": {
                "post": {
                    "parameters": [
                        {"$ref": "#/components/parameters/Size"},
                        {"name": "mode", "in": "query", "schema": {"enum": ["audio", "video"]}},
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Body"}}
                        }
                    },
                    "responses": {},
                }
            }
        },
    }
    inject_examples(document, pool, CanaryMatcher(world.ownership.canaries))
    size = document["components"]["parameters"]["Size"]
    assert _examples(size) == [17]  # only the value that is an integer
    mode = document["paths"]["/x"]["post"]["parameters"][1]
    assert "examples" not in mode  # an enum keeps its own values
    body = document["components"]["schemas"]["Body"]["properties"]
    assert sorted(body["mode"]["examples"]) == ["17", "video"]  # the 300-character one is too long
    assert "examples" not in body["kind"]


def test_captured_urls_offer_their_query_values() -> None:
    world = memory_world(clinic_profile())
    pool = value_pool(world, [], lambda obs: None)
    pool.add("url", "/api/recordings/5/media?token=tok-123", own=True)
    from scenarios.fuzz import examples

    examples._add_query_values(pool)
    assert "tok-123" in pool.values["token"]


def test_many_candidates_are_spread_not_cut() -> None:
    world = memory_world(clinic_profile())
    pool = value_pool(world, [_list(list(range(1, 61)))], _listing)
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/api/recordings/{recording_id}": {
                "get": {
                    "parameters": [
                        {
                            "name": "recording_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {},
                }
            }
        },
    }
    inject_examples(document, pool, CanaryMatcher(world.ownership.canaries))
    values = _examples(document["paths"]["/api/recordings/{recording_id}"]["get"]["parameters"][0])
    assert len(values) == EXAMPLES_PER_VALUE
    assert min(values) <= 5 and max(values) >= 55
