"""`/ws/events`: a logged-in user's live call events over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from clinic.auth import COOKIE, user_for_token
from clinic.events import Subscriber
from clinic.state import state_of

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
        await _pump(websocket, subscriber)
    finally:
        state.events.unsubscribe(subscriber)


async def _pump(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Send queued events until the client goes away."""
    sender = asyncio.create_task(_send_events(websocket, subscriber))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        return
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender


async def _send_events(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_json(await subscriber.queue.get())
