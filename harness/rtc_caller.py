"""Headless callers: aiortc peers whose camera and microphone carry their canary (issue 26).

A thin driver around `harness.media_call`: one WebSocket (the app's signalling socket, with the
user's credentials) and one RTCPeerConnection per caller. The camera is a 320x240, 15 fps
track showing `harness.media_canary.video_frame` (a QR code of the caller's text); the
microphone is 48 kHz mono carrying `audio_code`, looped. The pictures are rendered once per
caller and replayed, so a caller costs the video encoder, not the drawing; the sound is
encoded once per code (one period of Opus packets, by aiortc's own encoder) and its packets
replayed, as aiortc's MediaPlayer replays a file's packets without decoding them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import InfrastructureError
from harness.media_call import MediaCodes, Signalling

__all__ = ["Caller", "camera_track", "microphone_track"]

_CLOCK = 90_000  # RTP video clock
_RATE = 48_000
_PTIME = 0.02
_ANSWER_TIMEOUT = 15.0
_CONNECT_TIMEOUT = 15.0


def _mime(transceiver: Any) -> str:
    """The codec the app negotiated for `transceiver` ("" before it did). aiortc keeps it only
    in a private field; the real-call tests fail if it ever moves (every packet would then be
    encoded live, and the fallback is the same media)."""
    codecs = getattr(transceiver, "_codecs", None) or []
    return str(codecs[0].mimeType).lower() if codecs else ""


@functools.lru_cache(maxsize=256)
def _pictures(text: str) -> tuple[Any, ...]:
    """`text` as a QR code in FPS yuv420p pictures, a moving bar so the encoder sees motion."""
    import av

    from harness.media_canary import FPS, video_frame

    return tuple(
        av.VideoFrame.from_ndarray(video_frame(text, i), format="gray")
        .reformat(format="yuv420p")
        .to_ndarray()
        for i in range(FPS)
    )


@functools.lru_cache(maxsize=256)
def _vp8_loop(text: str) -> tuple[bytes, ...]:
    """The pictures as VP8 keyframes, encoded once: each one decodes on its own, so a camera
    turned on again, or a segment the app cuts anywhere, starts on a whole picture."""
    import av

    from harness.media_canary import FPS

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.bit_rate, codec.qmin, codec.qmax = 600_000, 2, 30
    codec.time_base = fractions.Fraction(1, FPS)
    # cpu-used 4 makes the same keyframes (within 3 % of the size, every code read back) in
    # a third of cpu-used 0's time, paid once per canary (each seed's are new).
    codec.options = {"deadline": "good", "cpu-used": "4", "lag-in-frames": "0", "threads": "1"}
    encoded: list[bytes] = []
    for index, picture in enumerate(_pictures(text)):
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts, frame.time_base = index, codec.time_base
        frame.pict_type = av.video.frame.PictureType.I
        encoded += [bytes(packet) for packet in codec.encode(frame)]
    encoded += [bytes(packet) for packet in codec.encode(None)]
    return tuple(encoded)


def camera_track(text: str, negotiated: Callable[[], str] = str) -> Any:
    """A track of `text` as a QR code, 15 fps: VP8 keyframes encoded once when the app
    negotiated VP8, else pictures for aiortc to encode live."""
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from harness.media_canary import FPS

    pictures = _pictures(text)

    class Camera(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._index = 0
            self._start: float | None = None

        async def recv(self) -> Any:
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._index / FPS
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            slot = self._index % len(pictures)
            sent: Any
            if negotiated() == "video/vp8":
                sent = av.Packet(_vp8_loop(text)[slot])
            else:
                sent = av.VideoFrame.from_ndarray(pictures[slot], format="yuv420p")
            sent.pts = round(self._index * _CLOCK / FPS)
            sent.time_base = fractions.Fraction(1, _CLOCK)
            self._index += 1
            return sent

    return Camera()


@functools.lru_cache(maxsize=256)
def _pcm(text: str) -> Any:
    import numpy as np

    from harness.media_canary import audio_code

    return (audio_code(text, None, _RATE) * 32767).astype(np.int16)


def _chunk(pcm: Any, index: int) -> Any:
    """The `index`-th 20 ms frame of the looped code, as 16-bit mono."""
    import av
    import numpy as np

    step = round(_RATE * _PTIME)
    at = index * step % pcm.size
    chunk = np.take(pcm, range(at, at + step), mode="wrap")
    frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
    frame.sample_rate = _RATE
    return frame


@functools.lru_cache(maxsize=256)
def _opus_loop(text: str) -> tuple[bytes, ...]:
    """One period of `text`'s looped audio code as Opus packets (20 ms each), encoded once.

    The code loops with a period of whole 20 ms frames (its symbols last 20 ms), so after one
    period the encoder's output repeats: the second period's packets, sent round and round,
    are what encoding the loop live would send, at none of the CPU (encoding every caller's
    sound live was the largest cost of a headless caller). aiortc's own encoder makes them."""
    from aiortc.codecs.opus import OpusEncoder

    pcm = _pcm(text)
    step = round(_RATE * _PTIME)
    period = pcm.size // step
    encoder = OpusEncoder()
    packets: list[bytes] = []
    for index in range(3 * period):
        frame = _chunk(pcm, index)
        frame.pts, frame.time_base = index * step, fractions.Fraction(1, _RATE)
        packets += encoder.encode(frame)[0]
    return tuple(packets[period : 2 * period])


def microphone_track(text: str, negotiated: Callable[[], str] = str) -> Any:
    """A track of `text` as the FSK audio code, looped, 20 ms at a time in real time: Opus
    packets encoded once when the app negotiated Opus, else frames aiortc encodes live."""
    import av
    from aiortc.mediastreams import MediaStreamTrack

    pcm = _pcm(text)
    step = round(_RATE * _PTIME)

    class Microphone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._sent = 0  # 20 ms frames
            self._start: float | None = None

        async def recv(self) -> Any:
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._sent * _PTIME
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent: Any
            if negotiated() == "audio/opus":
                loop = _opus_loop(text)
                sent = av.Packet(loop[self._sent % len(loop)])
            else:
                sent = _chunk(pcm, self._sent)
            sent.pts, sent.time_base = self._sent * step, fractions.Fraction(1, _RATE)
            self._sent += 1
            return sent

    return Microphone()


def _warm(codes: MediaCodes) -> None:
    _opus_loop(codes.audio)
    _pictures(codes.video)
    _vp8_loop(codes.video)


@dataclass
class Caller:
    """One user's side of one call: connect, switch the camera on and off, hang up."""

    url: str  # the signalling WebSocket
    headers: dict[str, str]
    call: str  # the call's id, as the offer template wants it
    codes: MediaCodes
    signalling: Signalling
    refused: str = "media-error"
    _pc: Any = None
    _socket: Any = None
    _camera: Any = None
    _video: Any = None  # the camera's transceiver, once added
    _inbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None
    _up: asyncio.Event = field(default_factory=asyncio.Event)
    # When media began to flow (monotonic clock): the peer connection was up.
    connected_at: float | None = None

    async def start(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection
        from websockets.asyncio.client import connect

        # The packets this caller will send, made before it connects and off the event loop:
        # made on first use, they held the loop ~0.1 s per caller while every caller's sound
        # was due, and a dozen callers joining at once lost the first second of the segment
        # they opened (the app recorded too little of it to read).
        await asyncio.to_thread(_warm, self.codes)
        self._socket = await connect(self.url, additional_headers=self.headers, open_timeout=10)
        self._reader = asyncio.ensure_future(self._read())
        # No STUN server: the app under test is on this host.
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc = self._pc

        def _state() -> None:
            if pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()
                self._up.set()

        pc.on("connectionstatechange", _state)
        sound: Any = None
        sound = pc.addTransceiver(
            microphone_track(self.codes.audio, lambda: _mime(sound)), "sendonly"
        )
        await self._negotiate()

    async def connected(self) -> float | None:
        """When the media began to flow; None if the connection did not come up in time (the
        caller then sent nothing the app could record)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), _CONNECT_TIMEOUT)
        return self.connected_at

    async def camera_on(self) -> None:
        if self._camera is None:
            self._camera = camera_track(self.codes.video, lambda: _mime(self._video))
        if self._video is None:
            self._video = self._pc.addTransceiver(self._camera, direction="sendonly")
        else:
            self._video.sender.replaceTrack(self._camera)
            self._video.direction = "sendonly"
        await self._negotiate()

    async def camera_off(self) -> None:
        if self._video is None:
            return
        self._video.sender.replaceTrack(None)
        self._video.direction = "inactive"
        await self._negotiate()

    async def stop(self) -> None:
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await self._pc.close()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _negotiate(self) -> None:
        from aiortc import RTCSessionDescription

        await self._pc.setLocalDescription(await self._pc.createOffer())
        await self._socket.send(
            self.signalling.render_offer(self._pc.localDescription.sdp, self.call)
        )
        try:
            sdp = await asyncio.wait_for(self._answer(), _ANSWER_TIMEOUT)
        except TimeoutError:
            raise InfrastructureError(
                f"no answer to a media offer for call {self.call} within {_ANSWER_TIMEOUT:.0f} s",
                "check the profile's media.signalling (offer template, answer type) against "
                "the app",
            ) from None
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def _answer(self) -> str:
        while True:
            text = await self._inbox.get()
            sdp = self.signalling.parse_answer(text)
            if sdp is not None:
                return sdp
            if self.signalling.is_refusal(text, self.refused):
                raise InfrastructureError(
                    f"the app refused a media offer for call {self.call}: {text[:200]}",
                    "check the profile's media: section against the app's signalling",
                )

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for message in self._socket:
                self._inbox.put_nowait(message if isinstance(message, str) else message.decode())
