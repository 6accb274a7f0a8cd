"""Consultations: join, leave (and rejoin), switch mode, end.

Each mode segment becomes one recording when a switch or the end closes it. The process keeps
a small registry of live media sessions, as a media server integration would: the call last
joined, per-call resume contexts for rejoin, and per-call locks that keep two switches of the
same call apart. The media renegotiation on a switch is slow, so it runs outside any database
transaction.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.access import is_assigned
from clinic.announce import announce, deliver
from clinic.flags import VIDEO_SWITCH
from clinic.media import SegmentIdentity, render_media, store_media
from clinic.models import Consultation, Participant, Recording, User, utcnow
from clinic.registry import CallRef, SegmentSnapshot
from clinic.schemas import ConsultationOut
from clinic.state import ClinicState

SWITCH_DISABLED = f"video switch is disabled: flag {VIDEO_SWITCH} is off"


def may_drive(session: Session, user: User, call: Consultation) -> bool:
    if user.role == "patient":
        return call.patient_id == user.id
    # The clinicians caring for the patient now, whoever the appointment was booked with.
    return is_assigned(session, user.id, call.patient_id)


def driveable_call(session: Session, user: User, consultation_id: int) -> Consultation:
    call = session.get(Consultation, consultation_id)
    if call is None or not may_drive(session, user, call):
        raise HTTPException(404, "consultation not found")
    return call


def consultation_out(session: Session, call: Consultation) -> ConsultationOut:
    names = session.scalars(
        select(User.username)
        .join(Participant, Participant.user_id == User.id)
        .where(Participant.consultation_id == call.id, Participant.present.is_(True))
        .order_by(Participant.id)
    )
    return ConsultationOut(
        id=call.id,
        appointment_id=call.appointment_id,
        patient_id=call.patient_id,
        clinician_id=call.clinician_id,
        status=call.status,
        mode=call.mode,
        switches=call.switches,
        participants=list(names),
    )


def get_call(state: ClinicState, user: User, consultation_id: int) -> ConsultationOut:
    with state.db.read() as session:
        return consultation_out(session, driveable_call(session, user, consultation_id))


def join(state: ClinicState, user: User, consultation_id: int) -> ConsultationOut:
    with state.db.write() as session:
        call = driveable_call(session, user, consultation_id)
        if call.status == "ended":
            raise HTTPException(409, "consultation has ended")
        if call.status == "scheduled":
            call.status, call.mode, call.segment_no = "active", "audio", 1
        if state.rtc is not None:
            state.rtc.begin(call.id, call.mode)
        participant = _participant(session, call.id, user.id)
        if participant is None:
            session.add(Participant(consultation_id=call.id, user_id=user.id, present=True))
        else:
            participant.present = True
            _restore_media_session(session, state, user, call)
        session.flush()
        state.calls.current = _ref(call)
        result = consultation_out(session, call)
        news = announce(session, state, "joined", call)
    # A rejoin may change which appointments the user takes part in.
    state.cache.clear()
    deliver(state, news)
    return result


def leave(state: ClinicState, user: User, consultation_id: int) -> ConsultationOut:
    with state.db.write() as session:
        call = driveable_call(session, user, consultation_id)
        participant = _participant(session, call.id, user.id)
        if participant is None or not participant.present:
            raise HTTPException(409, "you are not in this consultation")
        participant.present = False
        session.flush()
        result = consultation_out(session, call)
        news = announce(session, state, "left", call)
    deliver(state, news)
    return result


def switch(state: ClinicState, user: User, consultation_id: int, mode: str) -> ConsultationOut:
    with state.calls.lock_for(consultation_id):
        snapshot = _switchable(state, user, consultation_id, mode)
        owner_id = _negotiate_media(state, snapshot)
        if state.active("switch-recording-misattribution") and state.calls.current is not None:
            owner_id = state.calls.current.patient_id
        media = _segment_media(state, snapshot, next_mode=mode)
        with state.db.write() as session:
            call = driveable_call(session, user, consultation_id)
            filed = _file_segment(session, snapshot, owner_id, media, source="switch")
            call.mode, call.switches, call.segment_no = mode, call.switches + 1, call.segment_no + 1
            first_switch = _remember_first_switch(session, user)
            session.flush()
            result = consultation_out(session, call)
            news = announce(session, state, "switched", call, filed)
        state.calls.last_switched = state.calls.resume[consultation_id] = snapshot.ref
    # After the commit, so no reader can cache the list (or the user row) as it was before.
    if first_switch:
        state.tokens.forget_user(user.id)
    state.cache.clear()
    deliver(state, news)
    return result


def end(state: ClinicState, user: User, consultation_id: int) -> ConsultationOut:
    with state.calls.lock_for(consultation_id):
        snapshot = _endable(state, user, consultation_id)
        media = _segment_media(state, snapshot, next_mode=None)
        with state.db.write() as session:
            call = driveable_call(session, user, consultation_id)
            if call.status != "active":
                raise HTTPException(409, f"consultation is {call.status}, not active")
            filed = _file_segment(session, snapshot, call.patient_id, media, source="call")
            call.status = "ended"
            session.flush()
            result = consultation_out(session, call)
            news = announce(session, state, "ended", call, filed)
        state.calls.resume.pop(consultation_id, None)
    state.cache.clear()
    deliver(state, news)
    return result


def _remember_first_switch(session: Session, user: User) -> bool:
    """True when this was the user's first switch (the user row changed)."""
    if user.first_switch_at is not None:
        return False
    switcher = session.get(User, user.id)
    if switcher is None or switcher.first_switch_at is not None:
        return False
    switcher.first_switch_at = utcnow()
    return True


def _endable(state: ClinicState, user: User, consultation_id: int) -> SegmentSnapshot:
    with state.db.read() as session:
        call = driveable_call(session, user, consultation_id)
        if call.status != "active":
            raise HTTPException(409, f"consultation is {call.status}, not active")
        return _snapshot(call)


def _switchable(state: ClinicState, user: User, consultation_id: int, mode: str) -> SegmentSnapshot:
    with state.db.read() as session:
        call = driveable_call(session, user, consultation_id)
        if not state.flags.is_enabled(VIDEO_SWITCH, user.username):
            raise HTTPException(403, SWITCH_DISABLED)
        if call.status != "active":
            raise HTTPException(409, f"consultation is {call.status}, not active")
        if call.mode == mode:
            raise HTTPException(409, f"consultation is already in {mode} mode")
        return _snapshot(call)


def _negotiate_media(state: ClinicState, snapshot: SegmentSnapshot) -> int:
    """Renegotiate the media pipeline for the new mode; returns the closed segment's owner."""
    if state.active("switch-race"):
        state.calls.pending_switch = snapshot
        time.sleep(state.settings.switch_negotiation_seconds)
        pending = state.calls.pending_switch
        return pending.ref.patient_id if pending is not None else snapshot.ref.patient_id
    owner_id = snapshot.ref.patient_id
    time.sleep(state.settings.switch_negotiation_seconds)
    return owner_id


def _segment_media(
    state: ClinicState, snapshot: SegmentSnapshot, next_mode: str | None
) -> tuple[Path, int]:
    """Close the call's current segment and store its media: with real media, the WebM of what
    the call's participants sent during it; otherwise a header naming the consultation.

    Called under the call's lock but before the database write: encoding a real segment takes
    a good fraction of a second, and inside SQLite's one writer queue every call that ended at
    the same moment waited for all the encodings before it (ends timed out at 30 s under load).
    """
    if state.rtc is not None:
        data = state.rtc.cut(snapshot.ref.consultation_id, next_mode)
    else:
        data = render_media(snapshot.identity)
    return store_media(state.settings.media_dir, data), len(data)


def _file_segment(
    session: Session,
    snapshot: SegmentSnapshot,
    owner_id: int,
    media: tuple[Path, int],
    source: str,
) -> Recording:
    """File the segment that just closed, its media already stored, under `owner_id`."""
    identity = snapshot.identity
    path, size = media
    recording = Recording(
        consultation_id=snapshot.ref.consultation_id,
        appointment_id=snapshot.ref.appointment_id,
        patient_id=owner_id,
        mode=identity.mode,
        source=source,
        title=f"{identity.mode} recording: {identity.reason}",
        created_at=utcnow(),
        media_path=str(path),
        media_size=size,
    )
    session.add(recording)
    return recording


def _restore_media_session(
    session: Session, state: ClinicState, user: User, call: Consultation
) -> None:
    """A rejoin resumes the media session the last switch left behind."""
    if state.active("appointments-leak-on-rejoin"):
        context = state.calls.last_switched
    else:
        context = state.calls.resume.get(call.id)
    if context is None or _participant(session, context.consultation_id, user.id) is not None:
        return
    session.add(Participant(consultation_id=context.consultation_id, user_id=user.id, present=True))


def _participant(session: Session, consultation_id: int, user_id: int) -> Participant | None:
    query = select(Participant).where(
        Participant.consultation_id == consultation_id, Participant.user_id == user_id
    )
    return session.scalar(query)


def _ref(call: Consultation) -> CallRef:
    return CallRef(call.id, call.appointment_id, call.patient_id)


def _snapshot(call: Consultation) -> SegmentSnapshot:
    patient = call.appointment.patient
    identity = SegmentIdentity(
        consultation_id=call.id,
        segment_no=call.segment_no,
        mode=call.mode,
        patient_name=patient.display_name,
        nhs_number=patient.nhs_number or "",
        reason=call.appointment.reason,
    )
    return SegmentSnapshot(ref=_ref(call), identity=identity)
