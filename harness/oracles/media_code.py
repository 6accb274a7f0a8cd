"""The media oracle: whose face and voice a recording holds, read from its decoded frames.

An encoded recording hides its canaries from the byte oracle, so this one decodes it (PyAV),
reads the QR code in every Nth frame and every keyframe (zxing-cpp) and the audio code in its
sound (harness.media_canary), and judges each canary found against the ownership model at the
time of the read. A sampled frame or a stretch of sound where no code can be read is lost
coverage, never clean, and so is a recording with no audio code when the harness's own caller
was heard long enough in its call for one (harness.media_ledger), however short or silent it
is. Only bodies that are media containers (WebM/Matroska, MP4) are decoded;
decoding is capped in frames and wall time, and what a cap cut off is lost coverage too.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.coverage import MISSING_SENT
from harness.models import Canary, Finding, Observation, Surface, SurfaceKind
from harness.oracles.context import OracleContext, coverage_key
from harness.oracles.leaks import canary_finding
from harness.oracles.memo import BodyMemo, digest
from harness.oracles.registry import oracle
from harness.oracles.surfaces import where

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MediaScan", "is_container", "media_canary", "scan_media"]

_EBML = b"\x1a\x45\xdf\xa3"  # WebM / Matroska
# Sound at least this long with no code read is lost coverage, whoever spoke: a canary's
# audio code frame lasts 0.6 s and any 0.74 s of it reads, so this leaves room for the silence
# before a caller connects (recordings the harness's own callers made are held to their
# record instead: harness.media_ledger).
_AUDIO_MIN_SECONDS = 2.5


def is_container(body: bytes, content_type: str = "") -> bool:
    """A real media container by its magic bytes (a content type alone may lie)."""
    return body[:4] == _EBML or body[4:8] == b"ftyp"


@dataclass(slots=True)
class MediaScan:
    """What one recording's decoded media holds: (text, seconds into the recording) per read."""

    video: list[tuple[str, float]] = field(default_factory=list)
    audio: list[tuple[str, float]] = field(default_factory=list)
    frames_sampled: int = 0
    frames_read: int = 0
    unreadable_at: list[float] = field(default_factory=list)
    audio_seconds: float = 0.0
    media_seconds: float = 0.0
    decode_seconds: float = 0.0
    cut: list[str] = field(default_factory=list)
    error: str = ""


def scan_media(
    body: bytes, *, every: int = 5, max_frames: int = 2000, max_seconds: float = 5.0
) -> MediaScan:
    # PyAV, numpy and zxing-cpp load on the first recording, not with every harness import.
    import av

    scan = MediaScan()
    started = time.perf_counter()
    try:
        _scan_video(body, scan, every, max_frames, started + max_seconds)
        _scan_audio(body, scan, started + max_seconds)
    except (av.FFmpegError, ValueError) as exc:
        scan.error = f"undecodable media: {type(exc).__name__}"
    scan.decode_seconds = time.perf_counter() - started
    return scan


class _Scans:
    """Scans of recordings already decoded, by the digest of their bytes. A recording is the
    same bytes for every observer who receives it, and every look reads it again: decoding it
    once per run, not once per read, is most of the media oracle's CPU in the switch suite.
    A scan the time cap cut is not kept (on a less busy moment it may finish); an
    undecodable one is (the same bytes fail the same way)."""

    def __init__(self, limit: int = 4096) -> None:
        self._done: BodyMemo[MediaScan] = BodyMemo(limit)

    def of(self, body: bytes) -> MediaScan:
        key = digest(body)
        kept = self._done.get(key)
        if kept is not None:
            return kept
        scan = scan_media(body)
        if not scan.cut:
            self._done.put(key, scan)
        return scan


_SCANS = _Scans()


def _scan_video(body: bytes, scan: MediaScan, every: int, max_frames: int, until: float) -> None:
    import av
    import numpy as np

    from harness.media_canary import read_frame

    with av.open(io.BytesIO(body), "r") as src:
        if not src.streams.video:
            return
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        for index, picture in enumerate(src.decode(stream)):
            at = float(picture.time or 0.0)
            scan.media_seconds = max(scan.media_seconds, at)
            if index >= max_frames or time.perf_counter() > until:
                scan.cut.append("media:video decode cap")
                return
            if index % every and not picture.key_frame:
                continue
            scan.frames_sampled += 1
            gray = np.asarray(picture.to_ndarray(format="gray"), dtype=np.uint8)
            texts = read_frame(gray)
            if texts:
                scan.frames_read += 1
                scan.video.extend((text, at) for text in texts)
            else:
                scan.unreadable_at.append(at)


def _scan_audio(body: bytes, scan: MediaScan, until: float) -> None:
    import av
    import numpy as np

    from harness.media_canary import decode_audio

    with av.open(io.BytesIO(body), "r") as src:
        if not src.streams.audio:
            return
        stream = src.streams.audio[0]
        chunks: list[np.ndarray[Any, Any]] = []
        start: float | None = None
        rate = stream.rate or 48000
        for sound in src.decode(stream):
            if time.perf_counter() > until:
                scan.cut.append("media:audio decode cap")
                break
            if start is None:
                start = float(sound.time or 0.0)
            samples = sound.to_ndarray()
            # Planar formats come as (channels, n), packed as (1, n * channels).
            if sound.format.is_planar:
                chunks.append(samples.mean(axis=0))
            else:
                chunks.append(samples.reshape(-1, len(sound.layout.channels)).mean(axis=1))
        if not chunks:
            return
        pcm = np.concatenate(chunks).astype(np.float32)
        if pcm.dtype.kind != "f" or np.abs(pcm).max(initial=0.0) > 2.0:
            pcm = pcm / 32768.0
        scan.audio_seconds = pcm.size / rate
        scan.media_seconds = max(scan.media_seconds, (start or 0.0) + scan.audio_seconds)
        scan.audio = [(hit.text, (start or 0.0) + hit.offset) for hit in decode_audio(pcm, rate)]


@oracle("media-canary")
def media_canary(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """Another user's canary in the pixels or sound of a recording the observer received."""
    # A Range chunk is no playable file; the ranged halves joined back up are (reads.joined).
    if obs.status >= 300 or not obs.complete or not is_container(obs.body):
        return
    scan = _SCANS.of(obs.body)  # read only: the same scan may judge other observers' reads
    # A code may hold a canary inside other text (a camera showing "Ada zq... Lovelace"), so
    # decoded text goes through the same matcher as bytes.
    reads = [(SurfaceKind.VIDEO, t, at) for t, at in scan.video]
    reads += [(SurfaceKind.AUDIO, t, at) for t, at in scan.audio]
    found = [
        (kind, hit.canary, at)
        for kind, text, at in reads
        for hit in ctx.matcher.scan(text.encode("utf-8"), unescape=False)
    ]
    owners = {canary.owner for _, canary, _ in found}
    # Read means a canary was read: a checksum that held by chance on noise names no one.
    heard = any(kind is SurfaceKind.AUDIO for kind, _, _ in found)
    pictured = any(kind is SurfaceKind.VIDEO for kind, _, _ in found)
    seen: set[tuple[str, SurfaceKind]] = set()
    for kind, canary, at in found:
        if (canary.value, kind) in seen:
            continue
        if ctx.world.ownership.may_see(obs.actor, canary.owner, obs.window):
            continue
        seen.add((canary.value, kind))
        yield _exposure(obs, canary, kind, at, mixed=len(owners) > 1)
    if scan.error:
        ctx.lost(obs, scan.error)
    for reason in scan.cut:
        ctx.lost(obs, reason)
    if scan.unreadable_at:
        ctx.lost(obs, "media:video frame without a readable code")
    if obs.entity and not scan.error:
        # pictures are expected per call (harness.media_ledger): the suite asks at its end
        ctx.world.calls.judged(obs.entity, pictured, coverage_key(obs))
    expected = ctx.world.calls.expected(obs.entity) if obs.entity else None
    if expected is not None and not heard and not scan.error:
        # The harness's own caller was heard long enough for a whole frame of its code: a
        # recording without one dropped or lost that sound, however short it is.
        ctx.lost(
            obs,
            f"{MISSING_SENT} ({obs.entity} of {expected.call}, 0.00-{scan.audio_seconds:.2f} s)",
        )
    elif scan.audio_seconds >= _AUDIO_MIN_SECONDS and not heard:
        ctx.lost(obs, "media:audio without a readable code")


def _exposure(
    obs: Observation, canary: Canary, kind: SurfaceKind, at: float, *, mixed: bool
) -> Finding:
    surface = Surface(kind, where(obs))
    what = "face" if kind is SurfaceKind.VIDEO else "voice"
    blend = " mixed with another user's" if mixed else ""
    return canary_finding(
        obs,
        canary,
        surface,
        check="media-canary",
        message=f"{obs.actor} received {canary.owner}'s {what}{blend} in {surface}",
        evidence=f"{what} of {canary.owner} at {at:.2f} s into the media at {surface.where}",
        extra=(("offset", f"{at:.2f}"), ("track", kind.value)),
    )
