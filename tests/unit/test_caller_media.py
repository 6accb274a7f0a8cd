"""A headless caller's media is encoded once per code and replayed: every replayed packet must
still carry the code (the real-call tests send them through the clinic)."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest

from harness.media_canary import FPS, decode_audio, read_frame
from harness.rtc_caller import _opus_loop, _vp8_loop, camera_track, microphone_track

TEXT = "zq0a1b2c3d4e"


def test_every_replayed_vp8_packet_is_a_keyframe_that_shows_the_code_alone() -> None:
    packets = _vp8_loop(TEXT)
    assert len(packets) == FPS
    for data in packets:
        decoder = av.CodecContext.create("libvpx", "r")  # a fresh decoder: no earlier frame
        (frame,) = decoder.decode(av.Packet(data))
        assert read_frame(np.asarray(frame.to_ndarray(format="gray"))) == [TEXT]


def test_the_replayed_opus_loop_decodes_to_the_audio_code_round_and_round() -> None:
    loop = _opus_loop(TEXT)
    # One period of the code's frame (a sync pair, 2 symbols per byte and CRC byte): 0.6 s.
    assert len(loop) * 0.02 == pytest.approx((2 + 2 * (len(TEXT) + 2)) * 0.02)
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate, decoder.layout = 48000, "stereo"
    pcm: list[np.ndarray] = []
    for index in range(3 * len(loop)):
        packet = av.Packet(loop[index % len(loop)])
        packet.pts, packet.time_base = index * 960, fractions.Fraction(1, 48000)
        for frame in decoder.decode(packet):
            pcm.append(frame.to_ndarray().reshape(-1, 2).mean(axis=1))
    sound = np.concatenate(pcm).astype(np.float32)
    sound = sound / 32768.0 if np.abs(sound).max() > 2.0 else sound
    hits = [hit.text for hit in decode_audio(sound, 48000)]
    assert hits.count(TEXT) >= 2


def test_tracks_send_packets_only_for_the_codec_they_were_encoded_in() -> None:
    async def first(track: object) -> object:
        return await track.recv()  # type: ignore[attr-defined]

    assert isinstance(asyncio.run(first(microphone_track(TEXT, lambda: "audio/opus"))), av.Packet)
    assert isinstance(
        asyncio.run(first(microphone_track(TEXT, lambda: "audio/pcmu"))), av.AudioFrame
    )
    assert isinstance(asyncio.run(first(camera_track(TEXT, lambda: "video/vp8"))), av.Packet)
    assert isinstance(asyncio.run(first(camera_track(TEXT, lambda: "video/h264"))), av.VideoFrame)
