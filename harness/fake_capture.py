"""Chromium's fake camera and microphone for one caller, from the codes the run's seed made.

Chromium reads a fake camera from a YUV4MPEG2 file and a fake microphone from a WAV file, and
loops both, when started with `--use-fake-device-for-media-stream`: a page's getUserMedia then
gets the caller's QR code (with their name written above it) and their audio code, and the
page's own RTCPeerConnection sends them. The flags are per browser process, so each caller
gets a browser of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.media_call import MediaCodes
from harness.media_canary import write_wav, write_y4m

__all__ = ["FakeCapture", "write_capture"]

# Long enough that the moving bar shows motion through the loop; 2 s is 3.5 MB of raw frames.
_VIDEO_SECONDS = 2.0
_AUDIO_SECONDS = 4.0


@dataclass(frozen=True, slots=True)
class FakeCapture:
    video: Path
    audio: Path

    def chromium_args(self) -> list[str]:
        return [
            "--use-fake-device-for-media-stream",
            # No permission prompt: a headless browser has nobody to click it.
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={self.video}",
            f"--use-file-for-fake-audio-capture={self.audio}",
        ]


def write_capture(directory: Path, user: str, codes: MediaCodes, caption: str) -> FakeCapture:
    """`<user>.y4m` and `<user>.wav` in `directory` (made if missing), carrying `codes`."""
    directory.mkdir(parents=True, exist_ok=True)
    # Chromium takes the path inside a flag: keep it to characters no shell or parser minds.
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", user) or "user"
    video = write_y4m(directory / f"{stem}.y4m", codes.video, _VIDEO_SECONDS, caption=caption)
    audio = write_wav(directory / f"{stem}.wav", codes.audio, _AUDIO_SECONDS)
    return FakeCapture(video, audio)
