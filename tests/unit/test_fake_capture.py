"""A browser caller's fake camera and microphone files: their QR code with their name above it,
and whole audio-code frames, so Chromium's loop never cuts a frame (issue 26)."""

from __future__ import annotations

import random
import wave
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.canaries import make_canary
from harness.caption import draw_text, text_width
from harness.fake_capture import write_capture
from harness.media_call import MediaCodes
from harness.media_canary import HEIGHT, WIDTH, audio_code, decode_audio, read_frame, video_frame

FRAME_BYTES = len(b"FRAME\n") + WIDTH * HEIGHT * 3 // 2


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), index=st.integers(0, 100))
def test_a_captioned_frame_still_reads_as_its_code(seed: int, index: int) -> None:
    name = f"Ada {make_canary(random.Random(seed))} Lovelace"
    frame = video_frame(name, index, caption=name)
    assert read_frame(frame) == [name]
    # The caption is inked above the code, where the uncaptioned frame is plain grey.
    assert (frame[:16] == 0).any() and not (video_frame(name, index)[:6] == 0).any()


def test_text_is_drawn_centred_and_clipped_to_the_frame() -> None:
    frame = np.full((20, 40), 128, dtype=np.uint8)
    draw_text(frame, "AB", top=2, scale=2)
    inked = np.argwhere(frame == 0)
    left, right = inked[:, 1].min(), inked[:, 1].max()
    assert left == (40 - text_width("AB", 2)) // 2 and right < 40 - left
    wide = np.full((12, 30), 128, dtype=np.uint8)
    draw_text(wide, "W" * 50, top=0, scale=2)  # longer than the frame: clipped, no error
    assert (wide == 0).any()


def test_the_capture_files_carry_the_users_codes_and_loop_on_whole_frames(
    tmp_path: Path,
) -> None:
    codes = MediaCodes(video="Ada zqcam0000001 Lovelace", audio="zqmic0000001")
    capture = write_capture(tmp_path / "capture", "p0/odd name", codes, "Ada Lovelace")
    assert capture.video.name == "p0_odd_name.y4m" and capture.audio.name == "p0_odd_name.wav"
    args = capture.chromium_args()
    assert f"--use-file-for-fake-video-capture={capture.video}" in args
    assert f"--use-file-for-fake-audio-capture={capture.audio}" in args
    assert "--use-fake-device-for-media-stream" in args
    raw = capture.video.read_bytes()
    _header, _, frames = raw.partition(b"\n")
    assert len(frames) % FRAME_BYTES == 0 and len(frames) // FRAME_BYTES >= 15
    last = frames[-FRAME_BYTES + 6 : -FRAME_BYTES + 6 + WIDTH * HEIGHT]
    assert read_frame(np.frombuffer(last, dtype=np.uint8).reshape(HEIGHT, WIDTH)) == [codes.video]
    with wave.open(str(capture.audio)) as src:
        rate, count = src.getframerate(), src.getnframes()
        pcm = np.frombuffer(src.readframes(count), dtype="<i2").astype(np.float32) / 32768.0
    assert count % audio_code(codes.audio, None, rate).size == 0
    # Looped end to start, the seam falls between frames: every frame still reads.
    hits = decode_audio(np.concatenate([pcm, pcm]), rate)
    assert {h.text for h in hits} == {codes.audio}
    assert len(hits) >= 2 * count // audio_code(codes.audio, None, rate).size - 1
