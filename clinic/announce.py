"""What a call change tells people: events on `/ws/events` and "recording ready" messages.

Both are composed inside the request's transaction (from rows it already holds) and handed off
after the commit, so no one hears about a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from clinic.access import care_team, recording_out
from clinic.models import Consultation, Recording, User, as_utc, utcnow
from clinic.notify import Mail, Message, Sms
from clinic.state import ClinicState


@dataclass(frozen=True, slots=True)
class Announcement:
    events: tuple[dict[str, Any], ...]
    audience: frozenset[int]
    messages: tuple[Message, ...] = ()


def call_event(kind: str, call: Consultation, recording: Recording | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "consultation_id": call.id,
        "patient_name": call.appointment.patient.display_name,
        "mode": call.mode,
        "recording": None
        if recording is None
        else recording_out(recording).model_dump(mode="json"),
        "at": as_utc(utcnow()).isoformat().replace("+00:00", "Z"),
    }


def announce(
    session: Session,
    state: ClinicState,
    kind: str,
    call: Consultation,
    filed: Recording | None = None,
) -> Announcement:
    """The events (and, for a filed recording, the patient's messages) of one call change."""
    events = [call_event(kind, call)]
    messages: tuple[Message, ...] = ()
    if filed is not None:
        session.flush()  # gives the recording its id
        events.append(call_event("recording-filed", call, filed))
        messages = recording_ready(session, state, filed)
    return Announcement(tuple(events), participants(session, call), messages)


def participants(session: Session, call: Consultation) -> frozenset[int]:
    """Who hears about a call: its patient and the clinicians now caring for them (a transfer
    or discharge ends that, even for appointments booked before)."""
    return frozenset({call.patient_id, *care_team(session, call.patient_id)})


def deliver(state: ClinicState, announcement: Announcement) -> None:
    """After the commit: push the events and queue the messages."""
    # Events are meant for the call's patient and clinician; the broadcast bug sends them to
    # every socket and leaves the filtering to the page's script.
    audience = None if state.active("ws-events-broadcast") else announcement.audience
    for event in announcement.events:
        state.events.publish(event, audience)
    for message in announcement.messages:
        state.outbox.submit(message)


def recording_ready(
    session: Session, state: ClinicState, recording: Recording
) -> tuple[Message, ...]:
    owner = session.get(User, recording.patient_id)
    if owner is None:
        return ()
    reason = recording.appointment.reason
    messages: list[Message] = []
    email = _mail_recipient(session, state, owner)
    if state.outbox.mail_enabled and email:
        body = (
            f"Dear {owner.display_name},\n\n"
            f"Your {recording.mode} recording from your appointment ({reason}) is ready: "
            f"{recording.title}.\nSign in to GP Online to watch it.\n"
        )
        messages.append(Mail(email, f"Your recording is ready: {recording.title}", body))
    if state.outbox.sms_enabled and owner.phone:
        text = f"GP Online: {owner.display_name}, your recording is ready: {recording.title}"
        messages.append(Sms(owner.phone, text))
    return tuple(messages)


def _mail_recipient(session: Session, state: ClinicState, owner: User) -> str | None:
    current = state.calls.current
    if state.active("mail-wrong-recipient") and current is not None:
        # The mailer asks the media registry whose call this is, and it answers with the
        # call last joined anywhere in the process.
        addressee = session.get(User, current.patient_id)
        return addressee.email if addressee is not None else None
    return owner.email
