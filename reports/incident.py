"""The incident report `watch` writes when it pulls the kill switch: incident.json (what a breach
notification and a post-incident review need) and a short incident.md for people. The watch
decides what happened (flags.watch.build_incident); this module only shapes and writes it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.models import Finding
from reports.files import write_atomic
from reports.groups import group_findings
from reports.result import FindingRecord


class IncidentExposure(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str
    observer: str
    what: list[str]
    surfaces: list[str]
    first_seen: datetime
    last_seen: datetime
    findings: int


class IncidentCause(BaseModel):
    """One root cause of the leak, one line: what leaked, whose, where it first showed."""

    model_config = ConfigDict(frozen=True)

    title: str
    findings: int
    owners: list[str]
    observers: list[str]
    surfaces: list[str]


def incident_causes(findings: list[Finding]) -> list[IncidentCause]:
    """The watch's findings grouped as a run's report groups them (reports.groups)."""
    records = [FindingRecord(f, 1, f.time, f.time) for f in findings]
    return [
        IncidentCause(
            title=g.title,
            findings=g.count,
            owners=list(g.owners),
            observers=list(g.observers),
            surfaces=list(g.surfaces),
        )
        for g in group_findings(records)
    ]


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    flag: str
    env: str
    backend: str
    target: str
    round: int
    rollout_at_detection: int
    enabled_at: datetime | None
    enabled_source: str | None
    detected_at: datetime
    disabled_at: datetime | None
    disable_error: str
    revoked_build: str | None = None
    audit_error: str = ""
    reason: str
    exposures: list[IncidentExposure]
    findings: list[Finding]  # in their own shape (`Finding.to_json`), as report.json has them
    causes: list[IncidentCause] = []  # root causes of `findings`, one line per bug


def write_incident(incident: Incident, out: Path) -> tuple[Path, Path]:
    """Writes incident.json and incident.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_atomic(out / "incident.json", incident.model_dump_json(indent=2) + "\n")
    md_path = write_atomic(out / "incident.md", incident_markdown(incident))
    return json_path, md_path


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "unknown"


def incident_markdown(incident: Incident) -> str:
    off = _when(incident.disabled_at) if incident.disabled_at else "NOT DISABLED - do it by hand"
    revoked = incident.revoked_build[:12] if incident.revoked_build else "none recorded"
    lines = [
        f"# Incident: {incident.flag} leaked user data in {incident.env}",
        "",
        f"- enabled: {_when(incident.enabled_at)} ({incident.enabled_source or 'no record'})",
        f"- detected: {_when(incident.detected_at)} (watch round {incident.round}, "
        f"rollout {incident.rollout_at_detection}%)",
        f"- disabled: {off}",
        f"- revoked build: {revoked}",
        f"- reason: {incident.reason}",
    ]
    if incident.audit_error:
        lines.append(f"- audit log: NOT written ({incident.audit_error})")
    if incident.causes:
        lines += ["", f"## What went wrong: {len(incident.causes)} root cause(s)", ""]
        lines += [
            f"- {c.title} ({c.findings} finding(s), {len(c.owners)} owner(s) -> "
            f"{len(c.observers)} observer(s))"
            for c in incident.causes
        ]
    lines += [
        "",
        "## Exposures (whose data reached whom)",
        "",
        "| owner | observer | what | surfaces | first seen |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.owner} | {e.observer} | {', '.join(e.what)} | {', '.join(e.surfaces)} "
        f"| {_when(e.first_seen)} |"
        for e in incident.exposures
    ]
    lines += ["", f"{len(incident.findings)} finding(s); details in incident.json.", ""]
    return "\n".join(lines)
