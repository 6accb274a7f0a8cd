"""A flag's history, as `flags history` and the demo show it: Chaperone's audit log and the
backend's own events, for one environment or all; and whether the audit chain holds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from flags import audit
from flags.audit import AuditEntry
from flags.backends.base import BackendEvent, FlagBackend
from flags.redact import redact
from reports.flags_console import AuditRow, ChainView, EventRow, HistoryView


def read_history(backend: FlagBackend, log_path: Path, flag: str, env: str | None) -> HistoryView:
    events = [e for e in backend.history(flag) if env is None or e.env in (env, None)]
    entries = [e for e in audit.read(log_path, flag) if env is None or e.env in (env, "*")]
    document = {
        "flag": flag,
        "audit": [e.model_dump(mode="json") for e in entries],
        "backend": [{**asdict(e), "at": e.at.isoformat() if e.at else None} for e in events],
    }
    return HistoryView(flag, backend.name, _audit_rows(entries), _event_rows(events), document)


def verify_chain(backend: FlagBackend, log_path: Path, flag: str) -> ChainView:
    """The log's hash chain, against the heads the backend kept for `flag`."""
    report = audit.verify(log_path, backend.audit_heads(flag))
    return ChainView(str(log_path), report.lines, tuple(report.problems), tuple(report.notes))


def _audit_rows(entries: list[AuditEntry]) -> list[AuditRow]:
    """One row per action: an intent is shown only while it has no outcome (a killed run)."""
    closed = {e.intent for e in entries if e.intent is not None}
    rows = []
    for e in entries:
        if e.phase == "intent" and e.seq in closed:
            continue
        who = e.actor + (f" ({e.ci})" if e.ci else "")
        who += f" for {e.claimed_actor}" if e.claimed_actor else ""
        rows.append(
            AuditRow(
                e.at.isoformat(timespec="seconds"),
                who,
                e.action,
                e.env,
                "no outcome" if e.phase == "intent" else e.result,
                e.build or "",
                redact(e.reason),
            )
        )
    return rows


def _event_rows(events: list[BackendEvent]) -> list[EventRow]:
    return [
        EventRow(
            e.at.isoformat(timespec="seconds") if e.at else "",
            e.actor or "",
            e.action,
            e.env or "",
            e.detail,
        )
        for e in events
    ]
