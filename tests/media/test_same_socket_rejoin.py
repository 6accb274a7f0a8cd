"""A page that hangs up keeps its events socket and joins again with a new peer connection on
it: the clinic's media endpoint must answer the new peer, not renegotiate the closed one (whose
ICE credentials the new offer does not share), and record what it sends. Real aiortc peers on
the loopback, in one process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from clinic.media_rtc import MediaEndpoint
from clinic.settings import ClinicSettings
from harness.oracles.media_code import scan_media
from harness.rtc_caller import camera_track, microphone_track

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CALL, SOCKET = 7, 1
CONNECT_SECONDS = 20.0


async def _join(endpoint: MediaEndpoint, video: str | None, audio: str) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(microphone_track(audio))
    if video is not None:
        pc.addTrack(camera_track(video))
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "media-offer", "consultation_id": CALL, "sdp": pc.localDescription.sdp}
    answer = await endpoint.signal(SOCKET, CALL, offer)
    assert answer["type"] == "media-answer", answer
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    deadline = asyncio.get_running_loop().time() + CONNECT_SECONDS
    while pc.connectionState != "connected":
        assert pc.connectionState not in ("failed", "closed"), pc.connectionState
        assert asyncio.get_running_loop().time() < deadline, (
            f"never connected: {pc.connectionState}"
        )
        await asyncio.sleep(0.1)
    return pc


def test_a_new_peer_on_the_same_socket_is_answered_and_recorded(tmp_path: Path) -> None:
    async def scenario() -> bytes:
        endpoint = MediaEndpoint(ClinicSettings(data_dir=tmp_path, media="real"))
        endpoint.begin(CALL, "video")
        try:
            first = await _join(endpoint, None, "zqmicfirst")
            await asyncio.sleep(1.0)
            await first.close()  # hung up; the socket stays open
            again = await _join(endpoint, "again zqcamagain", "zqmicagain")
            await asyncio.sleep(3.0)
            media = await asyncio.to_thread(endpoint.cut, CALL, None)
            await again.close()
            return media
        finally:
            await endpoint.aclose()

    scan = scan_media(asyncio.run(scenario()))
    assert not scan.error, scan.error
    assert {text for text, _ in scan.video} == {"again zqcamagain"}, scan.video
    assert "zqmicagain" in {text for text, _ in scan.audio}, scan.audio
