"""Run options: pydantic models, so the CLI, the policy and the pytest plugin share one shape and
one JSON Schema."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FuzzMethod = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
FuzzPhase = Literal["examples", "coverage", "fuzzing", "stateful"]


# A route as reports name it: METHOD and path template, e.g. "GET /items/{item_id}".
ROUTE_KEY = r"^[A-Z]+ /\S*$"
_ROUTE = re.compile(ROUTE_KEY)
# Population sizes: users of one role, or resources of one kind per owner.
Size = Annotated[int, Field(ge=0, le=10_000)]


class RouteSlo(BaseModel):
    """The objective of one route the load suite requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p95_ms: float = Field(gt=0, description="95th percentile of its response time, ms")


def _flat_routes_schema(schema: dict[str, Any]) -> None:
    """Route keys may sit beside the other fields, as the before-validator accepts them."""
    routes = schema["properties"]["routes"]["additionalProperties"]
    schema["patternProperties"] = {ROUTE_KEY: dict(routes)}


class SloThresholds(BaseModel):
    """Service-level objectives the load suite must meet. A breach is a failing gate.

    Per-route objectives are keyed by the route itself, beside the whole-run ones, e.g.
    `{"GET /api/items": {p95_ms: 800}, max_error_rate: 0.01}` (they are kept under `routes`).
    The profile's `load.slo` says which routes have one and their default limits."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra=_flat_routes_schema,
    )

    routes: dict[str, RouteSlo] = Field(
        default_factory=dict, description="route -> its objective; may also be given flat"
    )
    max_error_rate: float = Field(0.01, ge=0, le=1, description="failed requests / all requests")
    min_rps: float = Field(5.0, ge=0, description="minimum total requests per second")

    @model_validator(mode="before")
    @classmethod
    def _flat_routes(cls, value: Any) -> Any:
        """Keys that are routes (`GET /path`) go under `routes`; anything else stays, so a
        misspelt field is still refused by name."""
        if not isinstance(value, dict):
            return value
        flat = {k: v for k, v in value.items() if isinstance(k, str) and _ROUTE.match(k)}
        if not flat:
            return value
        rest = {k: v for k, v in value.items() if k not in flat}
        return {**rest, "routes": {**rest.get("routes", {}), **flat}}

    @field_validator("routes")
    @classmethod
    def _route_keys(cls, routes: dict[str, RouteSlo]) -> dict[str, RouteSlo]:
        for key in routes:
            if not _ROUTE.match(key):
                raise ValueError(f"'{key}' is not a route; write it as METHOD /path")
        return routes


class RunOptions(BaseModel):
    """Everything a run needs besides the target. Defaults are sensible for a 2-core laptop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    population: dict[str, Size] = Field(
        default_factory=dict,
        description="users per role and resources per owner, keyed by the profile's role and "
        "resource names (e.g. {owner_role: 20, observer_role: 4}); a name left out takes the "
        "profile's `count`",
    )
    seed: int = Field(0, description="makes canaries, names and schedules reproducible")
    suites: tuple[str, ...] = ("switch", "access", "stateful")
    scenarios: tuple[str, ...] = Field(
        (), description="only these switch scenarios (by name); empty: every scenario"
    )
    extra_seeds: tuple[int, ...] = Field(
        (), description="seeds to repeat the scenario suites (switch, access) with, after `seed`"
    )
    # Load suite (Locust subprocess)
    load_users: int = Field(12, ge=1)
    load_seconds: float = Field(20.0, gt=0)
    load_calls: int = Field(
        0,
        ge=0,
        description="with media real: the load journeys that are real calls at once (0: the "
        "usual share of load_users)",
    )
    workers: int = Field(0, ge=0, description="Locust worker processes; 0 runs one local process")
    expect_workers: int = Field(
        0, ge=0, description="remote Locust workers (chaperone load-worker) the master waits for"
    )
    master_bind_host: str = Field(
        "127.0.0.1", description="where the Locust master listens for workers"
    )
    master_bind_port: int = Field(
        0, ge=0, le=65535, description="its port; 0: free (5557 when remote workers join)"
    )
    load_join_seconds: float = Field(
        30.0, gt=0, description="how long the master waits for every worker to join"
    )
    slo: SloThresholds = SloThresholds()
    overlap: bool = Field(
        True,
        description="run the load suite beside the browser suite, on one seeding, when both "
        "are asked for and there are enough owners for each to drive its own",
    )
    media: Literal["header", "real"] = Field(
        "header",
        description="real: the switch suite's calls are WebRTC, each caller's camera and "
        "microphone carrying their canary (the profile's `media:` section); header: the "
        "flows alone, no media is sent",
    )
    # Browser suite (Playwright + Debian Chromium)
    browser_users: int = Field(3, ge=2)
    chromium: str = "/usr/bin/chromium"
    # Stateful suite (Hypothesis)
    stateful_examples: int = Field(30, ge=1)
    shrink_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="how long the stateful suite shrinks its first failure (0: that failure "
        "stands as found)",
    )
    # Fuzz suite (Schemathesis as a library; see scenarios/fuzz)
    fuzz_examples: int = Field(
        10, ge=1, le=10_000, description="examples Schemathesis generates per operation and phase"
    )
    fuzz_seconds: float = Field(
        300.0, gt=0, description="time limit of the fuzz suite, warm-up included"
    )
    fuzz_methods: tuple[FuzzMethod, ...] = Field(
        ("GET", "HEAD", "OPTIONS", "POST"),
        min_length=1,
        description="HTTP methods the fuzz suite sends, also as wrong-method probes; DELETE, PUT "
        "and PATCH change or destroy users' data, so they are left out unless named",
    )
    fuzz_phases: tuple[FuzzPhase, ...] = Field(
        ("examples", "coverage", "fuzzing", "stateful"),
        min_length=1,
        description="Schemathesis phases the fuzz suite runs",
    )
    fuzz_contract_checks: bool = Field(
        False,
        description="Schemathesis's own checks (not_a_server_error and the conformance checks) "
        "fail the fuzz suite; otherwise they are reported and do not fail it",
    )
    timeout_seconds: float = Field(900.0, gt=0, description="a suite running longer is an error")
    min_coverage: float = Field(
        0.95,
        ge=0,
        le=1,
        description="share of reads that must really be checked; less makes the run an error",
    )


def load_flow_share(users: int) -> int:
    """Journey users of `users` load users when the profile has both reads and flows: half,
    at least two (so flows can collide), never all of them."""
    return 0 if users < 2 else min(max(2, users // 2), users - 1)
