"""Canaries carried in pixels and sound, for recordings whose bytes hide them (issue 26).

An encoded recording (VP8/Opus, H.264/AAC) keeps no trace of a canary in its bytes, so the
byte oracle cannot see whose face or voice it holds. Here a canary becomes media that survives
a lossy codec and can be read back:

- video: the canary as a QR code (segno) centred in a 320x240 grey frame, read with zxing-cpp;
- audio: the canary as a 17-tone FSK frame (a sync pair, then 4 bits per 20 ms tone and a
  CRC-16), repeated end to end, so any frame's length of sound (0.6 s for a canary, plus two
  symbols) names its speaker, and a checksum rejects what a codec or a splice garbled.

The writers produce Chromium's fake capture files (`--use-file-for-fake-video-capture=x.y4m`,
`--use-file-for-fake-audio-capture=x.wav`); the decoders take raw frames and PCM so the media
oracle can feed them what PyAV decodes.
"""

from __future__ import annotations

import functools
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import segno
import zxingcpp

from harness.caption import GLYPH_HEIGHT, draw_text
from harness.media_call import AUDIO_CRC_BYTES, AUDIO_SYMBOL_SECONDS, AUDIO_SYNC_SYMBOLS

__all__ = [
    "AUDIO_RATE",
    "FPS",
    "HEIGHT",
    "WIDTH",
    "AudioHit",
    "audio_code",
    "decode_audio",
    "encode_webm",
    "read_frame",
    "video_frame",
    "write_wav",
    "write_y4m",
]

WIDTH, HEIGHT, FPS = 320, 240, 15
AUDIO_RATE = 8000

# 16 data tones 150 Hz apart and a sync tone above them, all under 4 kHz so 8 kHz PCM holds
# them, and at multiples of 50 Hz (the bin width of a 20 ms window) so a tone's energy does not
# leak into its neighbours' bins.
_DATA_TONES = tuple(500.0 + 150.0 * k for k in range(16))
_SYNC_TONE = 3100.0
_TONES = (*_DATA_TONES, _SYNC_TONE)
_SYNC = 16
_PAYLOAD_BYTES_MAX = 64
# How many hops per symbol the decoder tries: one of them starts within 1/8 symbol of a symbol
# boundary, so 7/8 of its window holds one tone.
_PHASES = 4
# A window whose loudest tone holds less than this share of the window's energy is noise,
# silence or a splice, never a symbol.
_MIN_TONE_SHARE = 0.3

# Rows above the QR code for a caption (2x-scaled 5-row glyphs and a margin).
_CAPTION_BAND = 16

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

Gray = npt.NDArray[np.uint8]
Pcm = npt.NDArray[np.float32]


def _crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: a stdlib-free, well-known check that catches any 1-2 symbol error."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


# -- video ---------------------------------------------------------------------------------


def video_frame(canary: str, index: int = 0, caption: str | None = None) -> Gray:
    """A 320x240 grey frame with `canary` as a QR code; `index` moves a small bar along the
    bottom edge so an encoder sees motion (a static picture would be all skipped blocks).
    A `caption` (the caller's name) is written above the code, for people looking at it."""
    frame = _still(canary, caption).copy()
    bar = (index * 8) % (WIDTH - 16)
    frame[HEIGHT - 12 : HEIGHT - 4, bar : bar + 16] = 32
    return frame


@functools.lru_cache(maxsize=64)
def _still(canary: str, caption: str | None) -> Gray:
    """The frame without its bar: a camera's frames differ only in the bar, and making the
    QR code again for each of them was most of a caller's start-up."""
    qr = segno.make(canary, micro=False, error="m")
    modules = np.array(qr.matrix, dtype=np.uint8)
    quiet = 4
    side = modules.shape[0] + 2 * quiet
    band = 0 if caption is None else _CAPTION_BAND
    scale = max(1, (HEIGHT - 24 - band) // side)
    code = np.full((side, side), 255, dtype=np.uint8)
    code[quiet : quiet + modules.shape[0], quiet : quiet + modules.shape[1]] = np.where(
        modules > 0, 0, 255
    ).astype(np.uint8)
    code = np.kron(code, np.ones((scale, scale), dtype=np.uint8))
    frame = np.full((HEIGHT, WIDTH), 128, dtype=np.uint8)
    top = band + (HEIGHT - 16 - band - code.shape[0]) // 2
    if caption is not None:
        draw_text(frame, caption, top=(band - GLYPH_HEIGHT * 2) // 2, scale=2)
    left = (WIDTH - code.shape[1]) // 2
    frame[top : top + code.shape[0], left : left + code.shape[1]] = code
    frame.flags.writeable = False  # shared by every caller of this canary
    return frame


def read_frame(gray: Gray) -> list[str]:
    """Every QR code readable in one frame (empty: none readable: lost coverage, not clean)."""
    return [
        result.text
        for result in zxingcpp.read_barcodes(gray, formats=_QR_ONLY)
        if result.valid and result.text
    ]


def write_y4m(path: Path, canary: str, seconds: float = 2.0, caption: str | None = None) -> Path:
    """A YUV4MPEG2 clip Chromium loops as its fake camera: 320x240, 15 fps, 4:2:0."""
    chroma = np.full((HEIGHT // 2) * (WIDTH // 2), 128, dtype=np.uint8).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for index in range(max(1, round(seconds * FPS))):
            out.write(b"FRAME\n")
            out.write(video_frame(canary, index, caption).tobytes())
            out.write(chroma)
            out.write(chroma)
    return path


# -- audio ---------------------------------------------------------------------------------


def _symbols(payload: bytes) -> list[int]:
    body = payload + _crc16(payload).to_bytes(AUDIO_CRC_BYTES, "big")
    nibbles = [part for byte in body for part in (byte >> 4, byte & 0x0F)]
    return [_SYNC] * AUDIO_SYNC_SYMBOLS + nibbles


def audio_code(canary: str, seconds: float | None = None, rate: int = AUDIO_RATE) -> Pcm:
    """`canary` as FSK frames back to back (one frame when `seconds` is None), amplitude 0.5."""
    payload = canary.encode("ascii")
    if not 0 < len(payload) <= _PAYLOAD_BYTES_MAX:
        raise ValueError(f"an audio code carries 1..{_PAYLOAD_BYTES_MAX} ASCII bytes")
    per_symbol = round(rate * AUDIO_SYMBOL_SECONDS)
    t = np.arange(per_symbol, dtype=np.float64) / rate
    # Every tone is a whole number of cycles per symbol, so symbols join without clicks.
    tones = [np.sin(2 * np.pi * f * t) for f in _TONES]
    one = np.concatenate([tones[s] for s in _symbols(payload)])
    repeats = 1 if seconds is None else max(1, int(np.ceil(seconds * rate / one.size)))
    pcm = np.tile(one, repeats)
    if seconds is not None:
        pcm = pcm[: round(seconds * rate)]
    return (0.5 * pcm).astype(np.float32)


@dataclass(frozen=True, slots=True)
class AudioHit:
    """One audio-code frame that passed its checksum, at `offset` seconds into the PCM."""

    text: str
    offset: float


def _dominant(pcm: Pcm, rate: int, hop: int, per_symbol: int) -> npt.NDArray[np.int16]:
    """The loudest of the 17 tones in each window `hop` samples apart (-1: no clear tone)."""
    count = (pcm.size - per_symbol) // hop + 1
    if count <= 0:
        return np.empty(0, dtype=np.int16)
    windows = np.lib.stride_tricks.as_strided(
        pcm.astype(np.float64),
        shape=(count, per_symbol),
        strides=(hop * 8, 8),
        writeable=False,
    )
    t = np.arange(per_symbol) / rate
    basis = np.exp(-2j * np.pi * np.outer(t, np.array(_TONES)))
    power = np.abs(windows @ basis) ** 2 * (2.0 / per_symbol)
    energy = np.einsum("ij,ij->i", windows, windows)
    best = power.argmax(axis=1).astype(np.int16)
    clear = power.max(axis=1) >= _MIN_TONE_SHARE * np.maximum(energy, 1e-12)
    return np.where(clear, best, np.int16(-1)).astype(np.int16)


def _parse(symbols: Sequence[int]) -> Iterable[tuple[int, str]]:
    """(symbol index, text) of each checksummed frame in one phase's symbol stream.

    The code repeats end to end, so the symbols a cut-off frame lacks after its sync pair are
    the ones just before that pair, at the end of the frame before it: one frame's length of
    sound (plus a symbol for the phase) names its speaker, wherever it starts. The checksum
    rejects any join of two different codes, as a splice or a second speaker makes."""
    i, n = 0, len(symbols)
    while i + 1 < n:
        if not (symbols[i] == _SYNC and symbols[i + 1] == _SYNC):
            i += 1
            continue
        end = _run_end(symbols, i + 2)
        after = symbols[i + 2 : end]
        if end < n and symbols[end] == _SYNC:
            text = _whole(after)
        else:
            # Cut off by the end of the sound (or by noise): the run may be any part of its
            # frame, so its length proves nothing on its own; the loop before it must agree.
            text = _wrapped(after, symbols[_run_start(symbols, i) : i])
        if text is not None:
            yield i, text
        i = max(end, i + 1) if text is not None else i + 1


def _run_end(symbols: Sequence[int], start: int) -> int:
    end = start
    while end < len(symbols) and 0 <= symbols[end] < 16:
        end += 1
    return end


def _run_start(symbols: Sequence[int], end: int) -> int:
    start = end
    while start > 0 and 0 <= symbols[start - 1] < 16:
        start -= 1
    return start


def _checked(nibbles: Sequence[int]) -> str | None:
    """The text of a frame body (payload, then its CRC-16) whose checksum holds."""
    body = bytes((nibbles[2 * k] << 4) | nibbles[2 * k + 1] for k in range(len(nibbles) // 2))
    payload, crc = body[:-2], int.from_bytes(body[-2:], "big")
    if _crc16(payload) == crc and payload.isascii() and payload.decode().isprintable():
        return payload.decode("ascii")
    return None


def _whole(after: Sequence[int]) -> str | None:
    """A frame whose body follows its sync pair. The payload length is not sent: each even
    split whose last 2 bytes check it is tried, the longest first."""
    for length in range(len(after) // 2, 2, -1):
        text = _checked(after[: 2 * length])
        if text is not None:
            return text
    return None


def _wrapped(after: Sequence[int], before: Sequence[int]) -> str | None:
    """A frame cut off after `after` symbols, its rest taken from the end of `before`.

    Where `before` runs on past the part taken, what precedes that part must be the same loop
    again (the end of `after`, at most two symbols checked): a join of two speakers' symbols
    otherwise passed the CRC-16 on its own about once in 300 splices. `after` may also be the
    whole frame (nothing missing), checked against the loop before it the same way."""
    for size in range(2 * (_PAYLOAD_BYTES_MAX + 2), max(len(after), 6) - 1, -1):
        missing = size - len(after)
        if size % 2 or missing > len(before) or not _same_loop(after, before, missing):
            continue
        text = _checked([*after, *before[len(before) - missing :]])
        if text is not None:
            return text
    return None


def _same_loop(after: Sequence[int], before: Sequence[int], missing: int) -> bool:
    """The symbols of `before` ahead of its last `missing` repeat the end of `after` (its
    frame, one loop earlier); a run reaching past the start of that frame held no sync."""
    extra = len(before) - missing
    if extra > len(after):
        return False
    return all(before[extra - j] == after[len(after) - j] for j in range(1, min(extra, 2) + 1))


def decode_audio(pcm: Pcm, rate: int = AUDIO_RATE) -> list[AudioHit]:
    """Every audio-code frame in mono PCM (any rate >= 8 kHz), in time order."""
    per_symbol = round(rate * AUDIO_SYMBOL_SECONDS)
    hop = per_symbol // _PHASES
    dominant = _dominant(np.ascontiguousarray(pcm, dtype=np.float32), rate, hop, per_symbol)
    hits: dict[tuple[str, int], AudioHit] = {}
    for phase in range(_PHASES):
        stream = [int(s) for s in dominant[phase::_PHASES]]
        for index, text in _parse(stream):
            offset = (phase + index * _PHASES) * hop / rate
            # Neighbouring phases read the same frame: keep one per frame-length slot.
            slot = round(offset / (per_symbol * 2 / rate))
            key = (text, slot)
            if key not in hits and (text, slot - 1) not in hits and (text, slot + 1) not in hits:
                hits[key] = AudioHit(text, offset)
    return sorted(hits.values(), key=lambda hit: hit.offset)


def write_wav(path: Path, canary: str, seconds: float = 4.0, rate: int = 48000) -> Path:
    """A 16-bit mono WAV Chromium loops as its fake microphone: whole code frames (at least
    `seconds` of them), so the loop's seam falls between two frames, never inside one."""
    one = audio_code(canary, None, rate)
    pcm = np.tile(one, max(1, int(np.ceil(seconds * rate / one.size))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


def encode_webm(
    video: Sequence[tuple[str | None, float]] = (),
    audio: Sequence[tuple[str | None, float]] = (),
) -> bytes:
    """A VP8/Opus WebM whose picture and sound show each (canary, seconds) in turn: what a
    recording of those callers looks like, for tests, benchmarks and stand-in recorders. A
    canary of None is a covered camera (a grey frame) or a muted microphone (silence)."""
    import io
    from fractions import Fraction

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as out:
        vstream = out.add_stream("libvpx", rate=FPS) if video else None
        if vstream is not None:
            vstream.width, vstream.height, vstream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            vstream.bit_rate = 300_000
        astream = out.add_stream("libopus", rate=48000) if audio else None
        if vstream is not None:
            index = 0
            for canary, seconds in video:
                for _ in range(max(1, round(seconds * FPS))):
                    pixels = (
                        video_frame(canary, index)
                        if canary is not None
                        else np.full((HEIGHT, WIDTH), 128, dtype=np.uint8)
                    )
                    gray = av.VideoFrame.from_ndarray(pixels, format="gray")
                    picture = gray.reformat(format="yuv420p")
                    picture.pts, picture.time_base = index, Fraction(1, FPS)
                    out.mux(vstream.encode(picture))
                    index += 1
            out.mux(vstream.encode())
        if astream is not None:
            pcm = np.concatenate(
                [
                    audio_code(c, s, 48000)
                    if c is not None
                    else np.zeros(round(s * 48000), dtype=np.float32)
                    for c, s in audio
                ]
            )
            step = 960  # 20 ms, Opus's usual frame
            for start in range(0, pcm.size - step + 1, step):
                sound = av.AudioFrame.from_ndarray(
                    pcm[None, start : start + step], format="flt", layout="mono"
                )
                sound.sample_rate, sound.pts = 48000, start
                sound.time_base = Fraction(1, 48000)
                out.mux(astream.encode(sound))
            out.mux(astream.encode())
    return buffer.getvalue()
