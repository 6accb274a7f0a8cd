"""Real calls: an aiortc media endpoint that records what each call's participants send.

With `--media real` a participant's page (or a headless caller) signals over its `/ws/events`
socket: `{"type": "media-offer", "consultation_id": N, "sdp": ...}` is answered with
`{"type": "media-answer", "consultation_id": N, "sdp": ...}`, and every later offer on the same
call and socket renegotiates the same peer connection, unless it comes from a new one (new ICE
credentials: the caller hung up and joined again on the same socket). A call starts
audio-only; switching to video is a renegotiation that adds the camera track, switching back
sets it inactive.

The endpoint keeps one tape per live call: the frames received since the call's current mode
segment began (audio only in an audio segment; camera and microphone in a video one), with
their arrival times. A switch or the end of the call cuts the tape (`cut`) and encodes it to
WebM (VP8 + Opus) with PyAV; `calls._segment_media` stores those bytes exactly as it files the
header-only media of `--media header`, so a segment filed under the wrong owner carries the
wrong face and voice. The latest track of each kind a call receives is the one recorded: a
caller who hangs up and joins again is recorded from their new peer at once, even while the old
peer's track is still winding down (waiting for it to end lost the rejoined caller's video on a
loaded machine).

Frames arrive on the server's event loop; cuts happen in request worker threads, so a tape is
guarded by a plain lock and encoding runs in the cutting thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from clinic.settings import ClinicSettings

__all__ = ["MediaEndpoint", "Tape"]

OFFER, ANSWER, ERROR = "media-offer", "media-answer", "media-error"
_FPS = 15
_RATE = 48000
_OPUS_FRAME = 960  # 20 ms at 48 kHz
# A tape keeps at most this much of a segment: a call left running cannot exhaust memory.
_MAX_SEGMENT_SECONDS = 60.0
# The pre-roll a new segment opens with, so a cut at a switch does not clip speech mid-word.
_CARRY_SECONDS = 2.5


@dataclass
class Tape:
    """One mode segment's frames, as received: video as (seconds, frame), audio as PCM."""

    mode: str
    started: float = field(default_factory=time.monotonic)
    video: list[tuple[float, av.VideoFrame]] = field(default_factory=list)
    audio: list[np.ndarray[Any, Any]] = field(default_factory=list)
    audio_samples: int = 0

    def add_video(self, frame: av.VideoFrame) -> None:
        at = time.monotonic() - self.started
        if self.mode == "video" and at < _MAX_SEGMENT_SECONDS:
            self.video.append((at, frame))

    def add_audio(self, pcm: np.ndarray[Any, Any]) -> None:
        if self.audio_samples < _MAX_SEGMENT_SECONDS * _RATE:
            self.audio.append(pcm)
            self.audio_samples += pcm.size

    def tail(self, seconds: float) -> np.ndarray[Any, Any]:
        pcm = np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.float32)
        return pcm[-round(seconds * _RATE) :] if pcm.size else pcm


@dataclass
class _Call:
    tape: Tape | None = None
    # One per signalling socket: a caller that hangs up and joins again is a new peer.
    peers: dict[int, RTCPeerConnection] = field(default_factory=dict)
    # The track of each kind being recorded; an older reader of that kind stops writing.
    recording: dict[str, MediaStreamTrack] = field(default_factory=dict)


class MediaEndpoint:
    """Peer connections per (call, user), and the tape of each live call's current segment."""

    def __init__(self, settings: ClinicSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._readers: set[asyncio.Task[None]] = set()
        # Process-wide on purpose only under the planted fault: see `cut`.
        self._carry: np.ndarray[Any, Any] | None = None
        # The call whose renegotiation (a later offer: a switch) was answered last; read only
        # under the planted fault: see `_tape_call`.
        self._renegotiating: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the recording side (worker threads) ------------------------------------------------

    def begin(self, consultation_id: int, mode: str) -> None:
        """A call went live in `mode`: frames from now on are its first segment."""
        with self._lock:
            call = self._calls.setdefault(consultation_id, _Call())
            if call.tape is None:
                call.tape = Tape(mode)

    def cut(self, consultation_id: int, next_mode: str | None) -> bytes:
        """Close the call's current segment and return it as WebM; `next_mode` None ends it."""
        with self._lock:
            call = self._calls.setdefault(consultation_id, _Call())
            tape = call.tape or Tape("audio")
            call.tape = Tape(next_mode) if next_mode is not None else None
            self._carry_into(call.tape, tape)
            if next_mode is None:
                self._hang_up(self._calls.pop(consultation_id))
        return encode_tape(tape)

    def reset(self) -> None:
        """Forget every call (the support API's reset wiped the database): consultation ids
        start again from 1, so a call kept here would hand its tape (another patient's
        sound and pictures, from the world before) to the new consultation with its id."""
        with self._lock:
            calls, self._calls = list(self._calls.values()), {}
            self._carry, self._renegotiating = None, None
        for call in calls:
            self._hang_up(call)

    def _hang_up(self, call: _Call) -> None:
        """The call ended: close its peer connections on the loop they live on."""
        if self._loop is None or not call.peers:
            return
        for pc in call.peers.values():
            self._loop.call_soon_threadsafe(self._spawn, pc.close())

    def _carry_into(self, new: Tape | None, old: Tape) -> None:
        if not self._settings.active("media-preroll-shared"):
            if new is not None:
                new.add_audio(old.tail(_CARRY_SECONDS))
            return
        # The fault: the pre-roll buffer is one slot for the whole process, so a segment
        # opens with the tail of whichever call was cut before it.
        previous, self._carry = self._carry, old.tail(_CARRY_SECONDS)
        if new is not None:
            new.add_audio(previous if previous is not None else self._carry)

    # -- the signalling side (the event loop) ----------------------------------------------

    async def signal(
        self, socket: int, consultation_id: int, message: dict[str, Any]
    ) -> dict[str, Any]:
        """Answer one offer, sent on `socket` (any key unique to the signalling socket), for a
        call its user may drive (the socket's handler checked that)."""
        if message.get("type") != OFFER or not isinstance(message.get("sdp"), str):
            return {
                "type": ERROR,
                "consultation_id": consultation_id,
                "detail": "expected an offer",
            }
        self._loop = asyncio.get_running_loop()
        pc = self._peer(consultation_id, socket, message["sdp"])
        if pc.remoteDescription is not None:
            self._renegotiating = consultation_id
        await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        return {"type": ANSWER, "consultation_id": consultation_id, "sdp": local.sdp}

    async def hang_up(self, socket: int) -> None:
        """The signalling socket closed: its peer connections go with it."""
        with self._lock:
            gone = [call.peers.pop(socket) for call in self._calls.values() if socket in call.peers]
        for pc in gone:
            with contextlib.suppress(Exception):
                await pc.close()

    def _peer(self, consultation_id: int, socket: int, offer: str) -> RTCPeerConnection:
        """The socket's peer for this offer: its current one for a renegotiation, a new one
        when the caller hung up and offers from a new peer connection on the same socket (a
        page keeps its events socket across calls). A new peer has new ICE credentials; the
        old one is closed by then, or soon, and renegotiating it refused the offer."""
        with self._lock:
            call = self._calls.setdefault(consultation_id, _Call())
            pc = call.peers.get(socket)
            if pc is not None and not _replaced(pc, offer):
                return pc
            if pc is not None:
                self._spawn(pc.close())  # on the loop: `signal` calls this
            # No STUN server: every peer is on this host.
            pc = call.peers[socket] = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            # A track announced while an answer already stands came with a renegotiation.
            renegotiated = pc.localDescription is not None
            with self._lock:
                call.recording[track.kind] = track
            self._spawn(self._read(consultation_id, call, track, renegotiated))

        return pc

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(
        self, consultation_id: int, owner: _Call, track: MediaStreamTrack, renegotiated: bool
    ) -> None:
        try:
            await self._record(consultation_id, owner, track, renegotiated)
        finally:
            with self._lock:
                if owner.recording.get(track.kind) is track:
                    del owner.recording[track.kind]

    async def _record(
        self, consultation_id: int, owner: _Call, track: MediaStreamTrack, renegotiated: bool
    ) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=_RATE)
        taped: int | None = None
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            with self._lock:
                if owner.recording.get(track.kind) is not track:
                    return  # a newer track of this kind took over
                if taped is None:
                    taped = self._tape_call(consultation_id, track.kind, renegotiated)
                call = self._calls.get(taped) if taped is not None else None
                tape = call.tape if call is not None else None
                if tape is None:
                    continue
                if isinstance(frame, av.VideoFrame):
                    tape.add_video(frame)
                elif isinstance(frame, av.AudioFrame):
                    for mono in resampler.resample(frame):
                        tape.add_audio(mono.to_ndarray().reshape(-1).astype(np.float32))

    def _tape_call(self, consultation_id: int, kind: str, renegotiated: bool) -> int | None:
        """Whose tape a track's frames go on (None: not settled yet, the frame is dropped).
        Called with the lock held."""
        if not renegotiated or not self._settings.active("media-tracks-crossed"):
            return consultation_id
        # The fault: a track a renegotiation added (a switch's camera) is attached when the
        # segment that keeps it opens, to the call renegotiated last (one slot for the whole
        # endpoint) rather than to its own peer's call. A caller adds the camera a moment
        # before the switch, so when two calls switch at the same moment the first one's
        # camera is taped for the other call.
        own = self._calls.get(consultation_id)
        if kind == "video" and (own is None or own.tape is None or own.tape.mode != "video"):
            return None
        return self._renegotiating

    async def aclose(self) -> None:
        with self._lock:
            calls, self._calls = list(self._calls.values()), {}
        for call in calls:
            for pc in call.peers.values():
                with contextlib.suppress(Exception):
                    await pc.close()
        for task in list(self._readers):
            task.cancel()


def _replaced(pc: RTCPeerConnection, offer: str) -> bool:
    """Whether `offer` comes from another peer connection than the one `pc` talks to."""
    if pc.connectionState in ("closed", "failed") or pc.signalingState == "closed":
        return True
    current = pc.remoteDescription
    return current is not None and _ice_ufrags(current.sdp) != _ice_ufrags(offer)


def _ice_ufrags(sdp: str) -> set[str]:
    return {
        line.split(":", 1)[1].strip()
        for line in sdp.splitlines()
        if line.startswith("a=ice-ufrag:")
    }


def encode_tape(tape: Tape) -> bytes:
    """A segment as WebM: VP8 at 15 fps when it holds video, Opus always (silence if none)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as out:
        # Every stream is added before the first packet: the header is written with it.
        video = _video_stream(out, tape.video[0][1]) if tape.video else None
        # libopus's default complexity (10) took ~1 % of a core per second of sound here, and
        # every segment re-encodes its 2.5 s pre-roll; complexity 0 takes under half that and
        # the canary's tones, 150 Hz apart, still decode exactly.
        audio = out.add_stream("libopus", rate=_RATE, options={"compression_level": "0"})
        if video is not None:
            _encode_video(out, video, tape.video)
        _encode_audio(out, audio, tape)
    return buffer.getvalue()


def _video_stream(out: Any, first: av.VideoFrame) -> Any:
    # libvpx's default (good quality, cpu-used 1, threads) took ~30 ms of CPU a frame here, its
    # threads mostly spinning; one thread in real time takes under 1 ms and the QR code stays
    # readable.
    fast = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "threads": "1"}
    stream = out.add_stream("libvpx", rate=_FPS, options=fast)
    stream.width, stream.height, stream.pix_fmt = first.width, first.height, "yuv420p"
    stream.bit_rate = 300_000
    return stream


def _encode_video(out: Any, stream: Any, frames: list[tuple[float, av.VideoFrame]]) -> None:
    last = -1
    for at, frame in frames:
        # Frames are placed by arrival, one per 1/15 s slot at most: a burst after a stall
        # is squeezed, never reordered.
        pts = max(round(at * _FPS), last + 1)
        last = pts
        picture = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
        picture.pts, picture.time_base = pts, Fraction(1, _FPS)
        out.mux(stream.encode(picture))
    out.mux(stream.encode())


def _encode_audio(out: Any, stream: Any, tape: Tape) -> None:
    pcm = np.concatenate(tape.audio) if tape.audio else np.zeros(_RATE, dtype=np.float32)
    usable = pcm.size - pcm.size % _OPUS_FRAME
    for start in range(0, usable, _OPUS_FRAME):
        chunk = np.ascontiguousarray(pcm[None, start : start + _OPUS_FRAME])
        sound = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        sound.sample_rate, sound.pts, sound.time_base = _RATE, start, Fraction(1, _RATE)
        out.mux(stream.encode(sound))
    out.mux(stream.encode())
