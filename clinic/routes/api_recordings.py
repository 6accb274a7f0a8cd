"""Recordings: the caller's paginated list, metadata, consent, deletion, media tokens, ranged
media and summary exports."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic import exports
from clinic.access import (
    is_assigned,
    patient_recordings,
    recording_for_metadata,
    recording_for_token,
    recording_out,
    still_servable,
    visible_recording,
)
from clinic.auth import CurrentUser, State
from clinic.media import RangeNotSatisfiable, parse_range
from clinic.models import MediaToken, Recording, User, utcnow
from clinic.pdf import Properties
from clinic.playback import playback_token
from clinic.routes.params import RecordingId
from clinic.routes.responses import (
    AUTH,
    BAD_JSON,
    RECORDING_NOT_FOUND,
    Responses,
    file_download,
    merge,
    problem,
)
from clinic.schemas import ConsentRequest, MediaTokenOut, RecordingOut, RecordingPage
from clinic.state import ClinicState

router = APIRouter(tags=["recordings"])
LOOKUP = merge(AUTH, RECORDING_NOT_FOUND)
LINK_HEADER: Responses = {
    200: {
        "headers": {
            "Link": {
                "description": 'RFC 8288 `<next page URL>; rel="next"`, absent on the last page',
                "schema": {"type": "string"},
            }
        }
    }
}
_OCTETS = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


def cache_key(state: ClinicState, request: Request, user: User) -> str:
    """Per-user cache key for a `/me` style URL, whose path alone does not name the user."""
    scope = "" if state.active("profile-cache-shared") else f"user={user.id}:"
    return f"{scope}{request.url.path}?{request.url.query}"


@router.get("/api/me/recordings", responses=merge(AUTH, LINK_HEADER))
async def api_my_recordings(
    request: Request,
    response: Response,
    user: CurrentUser,
    state: State,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RecordingPage:

    def load() -> RecordingPage:
        with state.db.read() as session:
            items, total = patient_recordings(session, state, user, page, per_page)
        more = page * per_page < total
        url = f"/api/me/recordings?page={page + 1}&per_page={per_page}" if more else None
        return RecordingPage(items=items, page=page, per_page=per_page, total=total, next=url)

    result = state.cache.remember(cache_key(state, request, user), load)
    if result.next is not None:
        response.headers["Link"] = f'<{result.next}>; rel="next"'
    return result


@router.get(
    "/api/me/recordings/export.csv",
    response_class=Response,
    responses=merge(file_download("text/csv", "all my recordings, one CSV row each"), AUTH),
)
async def api_export_mine(user: CurrentUser, state: State) -> Response:
    with state.db.read() as session:
        text = exports.summary_csv(exports.my_recordings(session, state, user))
    return _download(text.encode(), "text/csv; charset=utf-8", "my-recordings.csv")


@router.get("/api/recordings/{recording_id}", responses=LOOKUP)
async def api_recording(recording_id: RecordingId, user: CurrentUser, state: State) -> RecordingOut:
    with state.db.read() as session:
        recording = recording_for_metadata(session, state, user, recording_id)
        if recording is None:
            raise HTTPException(404, "recording not found")
        return recording_out(recording)


@router.delete(
    "/api/recordings/{recording_id}",
    status_code=204,
    response_class=Response,
    responses=merge({204: {"description": "deleted for everyone"}}, LOOKUP),
)
def api_delete_recording(recording_id: RecordingId, user: CurrentUser, state: State) -> Response:
    with state.db.write() as session:
        recording = _owned(session, user, recording_id)
        recording.deleted_at = utcnow()
    state.cache.clear()
    return Response(status_code=204)


@router.post("/api/recordings/{recording_id}/consent", responses=merge(BAD_JSON, LOOKUP))
def api_consent(
    recording_id: RecordingId, body: ConsentRequest, user: CurrentUser, state: State
) -> RecordingOut:
    with state.db.write() as session:
        recording = _owned(session, user, recording_id)
        recording.shared_with_clinician = body.share_with_clinician
        session.flush()
        result = recording_out(recording)
    state.cache.clear()
    return result


def _owned(session: Session, user: User, recording_id: int) -> Recording:
    """Consent and deletion are the owner's alone."""
    recording = session.get(Recording, recording_id)
    if recording is None or recording.deleted_at is not None or recording.patient_id != user.id:
        raise HTTPException(404, "recording not found")
    return recording


@router.post("/api/recordings/{recording_id}/media-token", responses=LOOKUP)
def api_media_token(recording_id: RecordingId, user: CurrentUser, state: State) -> MediaTokenOut:
    ttl = state.settings.media_token_ttl
    with state.db.write() as session:
        recording = recording_for_token(session, state, user, recording_id)
        if recording is None:
            raise HTTPException(404, "recording not found")
        token = secrets.token_urlsafe(24)
        expires = utcnow() + timedelta(seconds=ttl)
        session.add(
            MediaToken(token=token, recording_id=recording_id, user_id=user.id, expires_at=expires)
        )
        playback = playback_token(recording_id, _captioned(session, state, recording), ttl)
    url = f"/api/recordings/{recording_id}/media?token={token}"
    return MediaTokenOut(token=token, url=url, expires_in=ttl, playback=playback)


def _captioned(session: Session, state: ClinicState, recording: Recording) -> User:
    """The patient a player's caption names: the recording's."""
    current = state.calls.current
    if state.active("encoded-token-leak") and current is not None:
        # The caption asks the media registry whose call is on screen, and it answers with
        # the call last joined anywhere in the process.
        return session.get(User, current.patient_id) or recording.patient
    return recording.patient


@router.get(
    "/api/recordings/{recording_id}/media",
    response_class=Response,
    responses=merge(
        {
            200: {"content": _OCTETS, "description": "media bytes"},
            206: {"content": _OCTETS, "description": "a byte range"},
            416: {"description": "range not satisfiable (no body)"},
        },
        AUTH,
        problem(403, "missing or wrong media token"),
        problem(404, "recording deleted, no longer shared, or its media is gone"),
    ),
)
async def api_media(
    recording_id: RecordingId,
    user: CurrentUser,
    state: State,
    token: Annotated[str | None, Query(max_length=100)] = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    with state.db.read() as session:
        recording = _authorised_media(session, state, user, recording_id, token)
    path = Path(recording.media_path)
    if range_header is None and state.active("whole-file-download-leak"):
        # Whole-file downloads go through the page cache under the endpoint's name alone, as a
        # decorator keys a function without its arguments; a player's ranged requests bypass it.
        data = state.cache.remember("api_media", lambda: _media_bytes(path))
    elif range_header is not None and state.active("ranged-media-cache-leak"):
        # A player's ranged requests (a seek, the next chunk) read a copy of the file kept so
        # the disk is not read per chunk, memoised under the endpoint's name alone as above;
        # whole downloads read the file.
        data = state.cache.remember("api_media_ranged", lambda: _media_bytes(path))
    else:
        data = _media_bytes(path)
    return _ranged(data, range_header)


def _media_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise HTTPException(404, "media no longer available") from None


@router.get(
    "/api/recordings/{recording_id}/summary.csv",
    response_class=Response,
    responses=merge(file_download("text/csv", "the recording's summary as CSV"), LOOKUP),
)
async def api_summary_csv(recording_id: RecordingId, user: CurrentUser, state: State) -> Response:
    with state.db.read() as session:
        text = exports.summary_csv([_summarisable(session, state, user, recording_id)])
    return _download(text.encode(), "text/csv; charset=utf-8", f"recording-{recording_id}.csv")


@router.get(
    "/api/recordings/{recording_id}/summary.pdf",
    response_class=Response,
    responses=merge(file_download("application/pdf", "the recording's summary as PDF"), LOOKUP),
)
async def api_summary_pdf(recording_id: RecordingId, user: CurrentUser, state: State) -> Response:
    with state.db.read() as session:
        recording = _summarisable(session, state, user, recording_id)
        properties = _summary_properties(state, recording)
        data = exports.summary_pdf(recording, properties)
    return _download(data, "application/pdf", f"recording-{recording_id}.pdf")


def _summary_properties(state: ClinicState, recording: Recording) -> Properties:
    if state.active("document-metadata-leak"):
        # Memoised through the page cache under the template's name, as a decorator keys a
        # function without its arguments: the page text is right, the properties are the
        # last summary's, whoever it was about.
        return state.cache.remember(
            "summary.pdf:properties", lambda: exports.summary_properties(recording)
        )
    return exports.summary_properties(recording)


def _summarisable(session: Session, state: ClinicState, user: User, rid: int) -> Recording:
    recording = visible_recording(session, state, user, rid)
    if recording is None:
        raise HTTPException(404, "recording not found")
    return recording


def _download(data: bytes, media_type: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})


def _authorised_media(
    session: Session, state: ClinicState, user: User, recording_id: int, token: str | None
) -> Recording:
    if not token:
        raise HTTPException(403, "a media token is required: POST .../media-token first")
    if state.active("media-token-unbound"):
        grant = session.get(MediaToken, token)
    else:
        grant = session.scalar(
            select(MediaToken).where(
                MediaToken.token == token,
                MediaToken.recording_id == recording_id,
                MediaToken.user_id == user.id,
            )
        )
    if grant is None or grant.expires_at < utcnow():
        raise HTTPException(403, "media token is not valid for this recording")
    recording = session.get(Recording, recording_id)
    # The token is the grant, but care, consent and deletion can change while it is still
    # alive: a clinician who took a token and then handed the patient over (or discharged
    # them) must not play the recording after the change.
    holder = session.get(User, grant.user_id)
    if (
        recording is None
        or (
            holder is not None
            and holder.role == "clinician"
            and not is_assigned(session, holder.id, recording.patient_id)
        )
        or not still_servable(state, user, recording)
    ):
        raise HTTPException(404, "recording not found")
    return recording


def _ranged(data: bytes, range_header: str | None) -> Response:
    headers = {"Accept-Ranges": "bytes"}
    media_type = "application/octet-stream"
    if range_header is None:
        return Response(data, media_type=media_type, headers=headers)
    try:
        start, end = parse_range(range_header, len(data))
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{len(data)}"
        return Response(status_code=416, headers=headers)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)
