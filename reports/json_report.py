"""report.json: the machine-readable run result, and the input of `chaperone replay`.

The document's shape is the pydantic model `ReportDoc` (its JSON Schema: `report_schema()`).
Writing goes through it too, so what we write is always what we can read back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass as model

from harness.bounded import MAX_DATA_BYTES, read_bounded
from harness.coverage import CoverageRow, ListDepth, lost_reasons
from harness.errors import ConfigError
from harness.events import CaseFinished
from harness.models import Exposure, Finding, Severity, Step, Verdict
from reports.files import write_atomic
from reports.groups import FindingGroup, group_findings
from reports.redact import redact_result
from reports.result import FindingRecord, RunError, RunResult, SuiteResult
from reports.variants import variant_counts

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 2 added coverage, groups, accepted exposures, skipped cases
REPORT_FIX = "pass the report.json that `chaperone run` wrote into its --out directory"


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


@model(frozen=True, slots=True, kw_only=True)
class FindingDoc(Finding):
    """A finding in its own shape (`Finding.to_json`, with its `key`) and what the run counted
    about it; the fields are Finding's, so the report cannot drift from the Locust or incident
    copies."""

    occurrences: int
    first_seen: float
    last_seen: float
    accepted: str = ""
    accepted_until: str = ""


class SuiteDoc(_Doc):
    verdict: Verdict
    seconds: float
    message: str = ""
    metrics: dict[str, Any] = {}
    artifacts: list[str] = []
    started: float | None = None
    finished: float | None = None
    total_steps: int | None = None
    steps: int = 0


class CaseDoc(_Doc):
    suite: str
    name: str
    verdict: Verdict
    seconds: float
    message: str = ""
    finding_keys: list[str] = []
    skipped: str = ""


class CoverageRowDoc(_Doc):
    suite: str
    route: str
    observer: str
    owner: str
    checked: int
    lost: int
    reasons: list[tuple[str, int]] = []


class DepthDoc(_Doc):
    """How deep one list or export was read: the most pages and rows one walk took, the
    walks, and how many a page bound stopped before the end (`end` false: lost coverage)."""

    pages: int
    rows: int
    walks: int = 1
    capped: int = 0
    end: bool = True


class CoverageDoc(_Doc):
    ratio: float | None = None
    minimum: float = 0.0
    checked: int = 0
    lost: int = 0
    lost_reasons: dict[str, int] = {}
    retries: int = 0
    relogins: int = 0
    unfilled_routes: list[str] = []
    # Reads per source (profile, openapi, crawl, browser, har) and the routes found outside
    # the profile and the OpenAPI document, with their source: add them to the profile.
    reads_by_source: dict[str, int] = {}
    discovered_routes: dict[str, str] = {}
    # Run-wide figures of the bounded crawl: links its bounds left unread (crawl_cut), links
    # to unsafe routes never requested (crawl_refused), links off the origin (crawl_off_origin).
    bounds: dict[str, int] = {}
    # Reads sent in another request shape (harness.client.variants), by kind: checked, of
    # those by users other than the data's owner (the access suite's repeats), lost.
    variants: dict[str, dict[str, int]] = {}
    # How deep each list (walked page by page) and export (read whole) was read, by route
    depth: dict[str, DepthDoc] = {}
    rows: list[CoverageRowDoc] = []


class GroupDoc(_Doc):
    """One root cause (reports.groups): the leaked object, its owners' role and the first step
    that showed it; the rest is evidence. `count` is findings, so counts add up to findings."""

    key: str
    title: str
    object: str = ""
    objects: list[str] = []
    owner_role: str = ""
    suite: str = ""
    example: str = ""
    step: str
    severity: Severity
    count: int
    occurrences: int = 0
    kinds: list[str] = []
    data: list[str] = []
    surfaces: list[str] = []
    routes: list[str] = []
    findings: list[str]
    exposures: list[tuple[str, str]]
    suites: list[str]
    accepted: bool
    shortest_repro: list[Step]


class ErrorDoc(_Doc):
    suite: str
    message: str
    time: float


class TimingsDoc(_Doc):
    suites: dict[str, float]
    total: float


class ReportDoc(_Doc):
    schema_version: int
    verdict: Verdict
    reasons: list[str] = []
    run_id: str
    target: str
    build: str = ""
    seed: int | None
    suites_requested: list[str]
    started: float | None
    finished: float | None
    interrupted: bool
    run_finished: bool
    timings: TimingsDoc
    suites: dict[str, SuiteDoc]
    metrics: dict[str, dict[str, Any]]
    cases: list[CaseDoc]
    findings: list[FindingDoc]
    exposures: list[Exposure]
    errors: list[ErrorDoc]
    profile: str = ""
    profile_digest: str = ""
    roles: dict[str, str] = {}
    coverage: CoverageDoc = CoverageDoc()
    causes: list[GroupDoc] = []  # root causes, one per leaked object (reports.groups)


def report_schema() -> dict[str, Any]:
    return ReportDoc.model_json_schema()


def write_json(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    """Write report.json atomically, after masking secrets."""
    doc = to_doc(redact_result(result, secrets))
    return write_atomic(Path(path), doc.model_dump_json(indent=2) + "\n")


def load_report(path: Path) -> RunResult:
    """Read a report.json back. A missing or malformed file is a ConfigError (exit 2)."""
    path = Path(path)
    try:
        raw = json.loads(read_bounded(path, "report file", MAX_DATA_BYTES, REPORT_FIX))
    except RecursionError:
        raise ConfigError(
            f"report file {path} is nested too deeply to be read", REPORT_FIX
        ) from None
    except FileNotFoundError:
        raise ConfigError(f"report file {path} does not exist", REPORT_FIX) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read report file {path}: {exc}", REPORT_FIX) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})", REPORT_FIX
        ) from None
    return from_doc(_validate(raw, path))


def _validate(raw: object, path: Path) -> ReportDoc:
    if isinstance(raw, dict) and raw.get("schema_version", SCHEMA_VERSION) not in READABLE_VERSIONS:
        raise ConfigError(
            f"{path} has schema_version {raw['schema_version']!r}, this Chaperone reads "
            f"{SCHEMA_VERSION}",
            "re-run `chaperone run` with this version to regenerate the report",
        )
    try:
        return ReportDoc.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ConfigError(
            f"{path} is not a Chaperone report: {where}: {first['msg']}", REPORT_FIX
        ) from None


def to_doc(result: RunResult) -> ReportDoc:
    suites = {s.name: _suite_doc(s) for s in result.suites}
    return ReportDoc(
        schema_version=SCHEMA_VERSION,
        verdict=result.verdict,
        reasons=list(result.reasons),
        run_id=result.run_id,
        target=result.target,
        build=result.build,
        seed=result.seed,
        suites_requested=list(result.suites_requested),
        started=result.started,
        finished=result.finished,
        interrupted=result.interrupted,
        run_finished=result.run_finished,
        timings=TimingsDoc(
            suites={name: s.seconds for name, s in suites.items()}, total=result.seconds
        ),
        suites=suites,
        metrics={name: s.metrics for name, s in suites.items()},
        cases=[_case_doc(c) for c in result.cases],
        findings=[_finding_doc(r) for r in result.findings],
        exposures=list(result.exposures),
        errors=[ErrorDoc.model_validate(e, from_attributes=True) for e in result.errors],
        profile=result.profile,
        profile_digest=result.profile_digest,
        roles=dict(result.roles),
        coverage=_coverage_doc(result),
        causes=[
            _group_doc(g) for g in group_findings(result.findings, _accepted(result), result.roles)
        ],
    )


def _accepted(result: RunResult) -> list[str]:
    return [r.key for r in result.findings if r.accepted]


def _by_variant(rows: Iterable[CoverageRow]) -> dict[str, dict[str, int]]:
    return {
        c.kind: {"checked": c.checked, "by_other_users": c.by_others, "lost": c.lost}
        for c in variant_counts(rows)
    }


def _coverage_doc(result: RunResult) -> CoverageDoc:
    rows = result.coverage_rows
    return CoverageDoc(
        ratio=result.coverage,
        minimum=result.min_coverage,
        checked=sum(r.checked for r in rows),
        lost=sum(r.lost for r in rows),
        lost_reasons=dict(lost_reasons(rows)),
        retries=result.retries,
        relogins=result.relogins,
        unfilled_routes=list(result.unfilled),
        reads_by_source=dict(result.sources),
        discovered_routes=dict(result.found),
        bounds=dict(result.bounds),
        variants=_by_variant(rows),
        depth={
            route: DepthDoc(pages=d.pages, rows=d.rows, walks=d.walks, capped=d.capped, end=d.end)
            for route, d in result.depth.items()
        },
        rows=[
            CoverageRowDoc(
                suite=r.suite,
                route=r.route,
                observer=r.observer,
                owner=r.owner,
                checked=r.checked,
                lost=r.lost,
                reasons=list(r.reasons),
            )
            for r in rows
        ],
    )


def _group_doc(group: FindingGroup) -> GroupDoc:
    shortest = group.shortest
    return GroupDoc(
        key=group.key,
        title=group.title,
        object=group.object,
        objects=list(group.objects),
        owner_role=group.owner_role,
        suite=group.suite,
        example=group.example,
        step=group.step,
        severity=group.severity,
        count=group.count,
        occurrences=group.occurrences,
        kinds=list(group.kinds),
        data=list(group.data),
        surfaces=list(group.surfaces),
        routes=list(group.routes),
        findings=[r.key for r in group.records],
        exposures=[tuple(p) for p in group.exposures],
        suites=list(group.suites),
        accepted=group.accepted,
        shortest_repro=list(shortest.repro),
    )


def _jsonable(value: Mapping[str, object]) -> dict[str, Any]:
    """Metrics are suite-defined; anything JSON cannot hold is written as its str()."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(value), default=str))
    return loaded


def _suite_doc(suite: SuiteResult) -> SuiteDoc:
    return SuiteDoc(
        verdict=suite.verdict,
        seconds=suite.seconds,
        message=suite.message,
        metrics=_jsonable(suite.metrics),
        artifacts=list(suite.artifacts),
        started=suite.started,
        finished=suite.finished,
        total_steps=suite.total_steps,
        steps=suite.steps,
    )


def _case_doc(case: CaseFinished) -> CaseDoc:
    return CaseDoc(
        suite=case.suite,
        name=case.name,
        verdict=case.verdict,
        seconds=case.seconds,
        message=case.message,
        finding_keys=list(case.finding_keys),
        skipped=case.skipped,
    )


_FINDING_FIELDS = tuple(f.name for f in dataclasses.fields(Finding))


def _finding_doc(record: FindingRecord) -> FindingDoc:
    f = record.finding
    return FindingDoc(
        **{name: getattr(f, name) for name in _FINDING_FIELDS},
        occurrences=record.occurrences,
        first_seen=record.first_seen,
        last_seen=record.last_seen,
        accepted=record.accepted,
        accepted_until=record.accepted_until,
    )


def from_doc(doc: ReportDoc) -> RunResult:
    return RunResult(
        run_id=doc.run_id,
        target=doc.target,
        build=doc.build,
        seed=doc.seed,
        suites_requested=tuple(doc.suites_requested),
        suites=tuple(_suite_from(name, s) for name, s in doc.suites.items()),
        cases=tuple(_case_from(c) for c in doc.cases),
        findings=tuple(_record_from(f) for f in doc.findings),
        exposures=tuple(doc.exposures),
        errors=tuple(RunError(e.suite, e.message, e.time) for e in doc.errors),
        interrupted=doc.interrupted,
        run_finished=doc.run_finished,
        started=doc.started,
        finished=doc.finished,
        verdict=doc.verdict,
        reasons=tuple(doc.reasons),
        profile=doc.profile,
        profile_digest=doc.profile_digest,
        coverage_rows=tuple(
            CoverageRow(r.suite, r.route, r.observer, r.owner, r.checked, r.lost, tuple(r.reasons))
            for r in doc.coverage.rows
        ),
        min_coverage=doc.coverage.minimum,
        retries=doc.coverage.retries,
        relogins=doc.coverage.relogins,
        unfilled=tuple(doc.coverage.unfilled_routes),
        sources=dict(doc.coverage.reads_by_source),
        found=dict(doc.coverage.discovered_routes),
        bounds=dict(doc.coverage.bounds),
        depth={
            route: ListDepth(route, d.pages, d.rows, d.walks, d.capped)
            for route, d in doc.coverage.depth.items()
        },
        roles=dict(doc.roles),
    )


def _suite_from(name: str, doc: SuiteDoc) -> SuiteResult:
    return SuiteResult(
        name=name,
        verdict=doc.verdict,
        seconds=doc.seconds,
        message=doc.message,
        metrics=dict(doc.metrics),
        artifacts=tuple(doc.artifacts),
        started=doc.started,
        finished=doc.finished,
        total_steps=doc.total_steps,
        steps=doc.steps,
    )


def _case_from(doc: CaseDoc) -> CaseFinished:
    return CaseFinished(
        suite=doc.suite,
        name=doc.name,
        verdict=doc.verdict,
        seconds=doc.seconds,
        message=doc.message,
        finding_keys=tuple(doc.finding_keys),
        skipped=doc.skipped,
    )


def _record_from(doc: FindingDoc) -> FindingRecord:
    finding = Finding(**{name: getattr(doc, name) for name in _FINDING_FIELDS})
    return FindingRecord(
        finding,
        doc.occurrences,
        doc.first_seen,
        doc.last_seen,
        doc.accepted,
        doc.accepted_until,
    )
