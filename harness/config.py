"""Run options: pydantic models, so the CLI, the policy and the pytest plugin share one shape and
one JSON Schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FuzzMethod = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
FuzzPhase = Literal["examples", "coverage", "fuzzing", "stateful"]


class SloThresholds(BaseModel):
    """Service-level objectives the load suite must meet. A breach is a failing gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recordings_list_p95_ms: float = Field(1500.0, gt=0, description="p95 of GET /api/me/recordings")
    media_first_byte_p95_ms: float = Field(1500.0, gt=0, description="p95 time to first media byte")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="failed requests / all requests")
    min_rps: float = Field(5.0, ge=0, description="minimum total requests per second")


class RunOptions(BaseModel):
    """Everything a run needs besides the target. Defaults are sensible for a 2-core laptop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: int = Field(6, ge=2, le=10_000, description="synthetic patients to seed")
    clinicians: int = Field(2, ge=1, le=1_000, description="synthetic clinicians to seed")
    appointments_per_patient: int = Field(
        10, ge=1, le=50, description="each scenario uses a fresh appointment (call) per patient"
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
        "are asked for and there are enough patients for each to drive its own",
    )
    # Browser suite (Playwright + Debian Chromium)
    browser_users: int = Field(3, ge=2)
    chromium: str = "/usr/bin/chromium"
    # Stateful suite (Hypothesis)
    stateful_examples: int = Field(30, ge=1)
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
