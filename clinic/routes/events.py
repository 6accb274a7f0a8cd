"""`/ws/events`: a logged-in user's live call events over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from clinic.auth import COOKIE, user_for_token
from clinic.calls import may_drive
from clinic.events import Subscriber
from clinic.models import Consultation, User
from clinic.state import ClinicState, state_of

if TYPE_CHECKING:
    from clinic.media_rtc import MediaEndpoint

router = APIRouter()
POLICY_VIOLATION = 1008


def _token(websocket: WebSocket) -> str | None:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.cookies.get(COOKIE) or websocket.query_params.get("token") or None


@router.websocket("/ws/events")
async def ws_events(websocket: WebSocket) -> None:
    state = state_of(websocket)
    user = await run_in_threadpool(user_for_token, state, _token(websocket))
    if user is None:
        # Accept first so the client sees a close code, not a bare handshake refusal.
        await websocket.accept()
        await websocket.close(POLICY_VIOLATION, "not authenticated: log in with POST /api/login")
        return
    # Subscribed before the handshake completes, so no event after it can be missed.
    subscriber = state.events.subscribe(user.id)
    try:
        await websocket.accept()
        await _pump(websocket, subscriber, state, user)
    finally:
        state.events.unsubscribe(subscriber)


async def _pump(
    websocket: WebSocket, subscriber: Subscriber, state: ClinicState, user: User
) -> None:
    """Send queued events, and answer media signalling, until the client goes away."""
    sender = asyncio.create_task(_send_events(websocket, subscriber))
    socket = id(websocket)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if state.rtc is not None and message.get("text"):
                answer = await _signal(state, state.rtc, socket, user, message["text"])
                await websocket.send_json(answer)
    except WebSocketDisconnect:
        return
    finally:
        if state.rtc is not None:
            await state.rtc.hang_up(socket)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender


async def _signal(
    state: ClinicState, rtc: MediaEndpoint, socket: int, user: User, text: str
) -> dict[str, Any]:
    """One signalling message: an offer for a call the user may drive gets its answer."""
    try:
        message = json.loads(text)
        consultation_id = int(message["consultation_id"])
    except (ValueError, TypeError, KeyError):
        return {"type": "media-error", "detail": "expected JSON with a consultation_id"}
    if not await run_in_threadpool(_may_signal, state, user, consultation_id):
        return {"type": "media-error", "consultation_id": consultation_id, "detail": "not found"}
    return await rtc.signal(socket, consultation_id, message)


def _may_signal(state: ClinicState, user: User, consultation_id: int) -> bool:
    with state.db.read() as session:
        call = session.get(Consultation, consultation_id)
        return call is not None and call.status == "active" and may_drive(session, user, call)


async def _send_events(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_json(await subscriber.queue.get())
