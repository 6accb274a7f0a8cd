"""Recording summaries for download: one recording as CSV or PDF, and all of mine as CSV."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.models import Recording, User, as_utc
from clinic.pdf import Properties, text_pdf
from clinic.state import ClinicState

COLUMNS = ("recording_id", "patient_name", "nhs_number", "reason", "title", "mode", "created_at")


def _row(recording: Recording) -> tuple[str, ...]:
    patient = recording.patient
    return (
        str(recording.id),
        patient.display_name,
        patient.nhs_number or "",
        recording.appointment.reason,
        recording.title,
        recording.mode,
        as_utc(recording.created_at).isoformat(),
    )


def summary_csv(recordings: list[Recording]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(recording) for recording in recordings)
    return out.getvalue()


def summary_properties(recording: Recording) -> Properties:
    """The summary's document properties: the patient it is about, and which recording."""
    patient = recording.patient
    return Properties(
        title=f"Recording {recording.id} summary",
        author=patient.display_name,
        subject=f"NHS number {patient.nhs_number or 'unknown'}: {recording.title}",
    )


def summary_pdf(recording: Recording, properties: Properties) -> bytes:
    labels = ("Recording", "Patient", "NHS number", "Reason", "Title", "Mode", "Created")
    lines = [f"{label}: {value}" for label, value in zip(labels, _row(recording), strict=True)]
    return text_pdf("GP Online: recording summary", lines, properties)


# The "export all" download reads its rows in batches, so a patient with years of recordings
# does not hold them all in one result set.
EXPORT_BATCH = 100


def my_recordings(session: Session, state: ClinicState, user: User) -> list[Recording]:
    """Everything the caller owns (and has not deleted), for the "export all" download, read
    `EXPORT_BATCH` rows at a time (keyset: the rows after the last batch's last id)."""
    live = select(Recording).where(Recording.deleted_at.is_(None)).order_by(Recording.id)
    query = live if state.active("export-unscoped") else live.where(Recording.patient_id == user.id)
    # The faulty next-batch query was built from the unfiltered base, as a helper shared with
    # the admin export would build it.
    following = live if state.active("export-batch-unscoped") else query
    rows: list[Recording] = []
    batch = list(session.scalars(query.limit(EXPORT_BATCH)))
    while batch:
        rows += batch
        if len(batch) < EXPORT_BATCH:
            break
        after = following.where(Recording.id > batch[-1].id)
        batch = list(session.scalars(after.limit(EXPORT_BATCH)))
    return rows
