"""Events the engine yields. It never prints: reporters (console, JSON, JUnit, HTML) consume these.

A run is a stream:

    RunStarted
      WorldSeeded      (after seeding, once per seed: who is who)
      SuiteStarted
        StepFinished*  (progress; one per driven action)
        FindingRaised* (as soon as an oracle fires)
        CaseFinished*  (one per scenario / check, becomes a JUnit test case)
      CoverageReported (what the suite really checked)
      SuiteFinished
    RunFinished        (always last, also after an error or Ctrl-C)

`Interrupted` and `EngineError` may appear anywhere before RunFinished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.coverage import CoverageRow, ListDepth
from harness.models import Finding, Verdict


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    target: str
    seed: int
    suites: tuple[str, ...]
    time: float
    build: str = ""
    profile: str = ""  # the target profile's name
    min_coverage: float = 0.0  # below this checked share of reads the run is an error


@dataclass(frozen=True, slots=True)
class WorldSeeded:
    """The synthetic population exists on the target (once per seed)."""

    seed: int
    roles: tuple[tuple[str, str], ...]  # (actor id, role)
    profile_digest: str = ""
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class SuiteStarted:
    suite: str
    total_steps: int | None  # None when unknown (progress shows a spinner)
    time: float


@dataclass(frozen=True, slots=True)
class StepFinished:
    suite: str
    step: str
    actor: str
    status: int
    time: float


@dataclass(frozen=True, slots=True)
class FindingRaised:
    suite: str
    finding: Finding


@dataclass(frozen=True, slots=True)
class CaseFinished:
    """One scenario or check, reported as one JUnit test case."""

    suite: str
    name: str
    verdict: Verdict
    seconds: float
    message: str = ""
    finding_keys: tuple[str, ...] = ()
    # Why the case did not apply ("the profile has no flow switch_to_video"); such a case
    # is reported as not applicable, never as passed.
    skipped: str = ""


@dataclass(frozen=True, slots=True)
class CoverageReported:
    """What one suite really checked: every read, as whom, about whose data."""

    suite: str
    rows: tuple[CoverageRow, ...]
    retries: int = 0  # transient faults the driver survived
    relogins: int = 0  # sessions logged in again (expired, or older than the profile allows)
    unfilled: tuple[str, ...] = ()  # discovered routes whose parameters had no value
    # Reads by source (profile, openapi, crawl, browser, har), and the routes found outside
    # the profile and the OpenAPI document with their source.
    sources: tuple[tuple[str, int], ...] = ()
    found: tuple[tuple[str, str], ...] = ()
    bounds: tuple[tuple[str, int], ...] = ()  # run-wide: links the crawl's bounds cut, ...
    depth: tuple[ListDepth, ...] = ()  # run-wide: how deep each list and export was read


@dataclass(frozen=True, slots=True)
class SuiteFinished:
    suite: str
    verdict: Verdict
    seconds: float
    time: float
    message: str = ""
    # Suite-specific figures (load: rps, p95 ...; stateful: shrunk reproduction ...)
    metrics: dict[str, object] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()  # files the suite wrote (screenshots, traces, CSVs)


@dataclass(frozen=True, slots=True)
class EngineError:
    suite: str
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class Interrupted:
    time: float


@dataclass(frozen=True, slots=True)
class RunFinished:
    verdict: Verdict
    seconds: float
    time: float


Event = (
    RunStarted
    | WorldSeeded
    | SuiteStarted
    | StepFinished
    | FindingRaised
    | CaseFinished
    | CoverageReported
    | SuiteFinished
    | EngineError
    | Interrupted
    | RunFinished
)
