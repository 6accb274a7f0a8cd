"""A real WebRTC call on the clinic (`--media real`): what a headless caller sends is what each
mode segment's recording holds, read back from its pixels and sound."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinic.settings import ClinicSettings
from harness.media_call import MediaCodes, MediaPlan, Signalling
from harness.oracles.media_code import MediaScan, scan_media
from harness.rtc_caller import Caller
from tests.clinic.server import running_clinic
from tests.clinic.world import SUPPORT_TOKEN, World, seed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The default hold: over one audio-code frame of a 12-character text, two symbols and the lag
# (0.74 s), and over the 0.8 s of camera after which pictures are expected.
HOLD = MediaPlan().hold_seconds
CLINIC_SIGNALLING = Signalling(
    offer={"type": "media-offer", "consultation_id": "{{call}}", "sdp": "{{sdp}}"},
    answer_type="media-answer",
)


def codes(user: str) -> MediaCodes:
    return MediaCodes(video=f"{user} zqcam{user[:3]}", audio=f"zqmic{user[:7]}")


def _caller(world: World, base_url: str, user: str) -> Caller:
    return Caller(
        url=base_url.replace("http://", "ws://") + "/ws/events",
        headers=world.headers(user),
        call=str(world.calls[user]),
        codes=codes(user),
        signalling=CLINIC_SIGNALLING,
    )


async def _switching_call(world: World, base_url: str, user: str) -> None:
    """Join (audio), switch to video, back to audio, end, with media held in each segment."""
    post = asyncio.to_thread
    assert (await post(world.call, user, "join")).status_code == 200
    caller = _caller(world, base_url, user)
    await caller.start()
    try:
        await asyncio.sleep(HOLD)
        await caller.camera_on()
        assert (await post(world.call, user, "switch", "video")).status_code == 200
        await asyncio.sleep(HOLD)
        assert (await post(world.call, user, "switch", "audio")).status_code == 200
        await caller.camera_off()
        await asyncio.sleep(HOLD)
        assert (await post(world.call, user, "end")).status_code == 200
    finally:
        await caller.stop()


def _scans(world: World, user: str) -> dict[str, list[MediaScan]]:
    found: dict[str, list[MediaScan]] = {}
    for item in sorted(world.recordings(user), key=lambda r: r["id"]):
        found.setdefault(item["mode"], []).append(scan_media(world.media(user, item["id"])))
    return found


async def _rejoining_call(world: World, base_url: str, user: str) -> None:
    """Join, switch to video, hang up and leave, join again with a new caller, end."""
    post = asyncio.to_thread
    assert (await post(world.call, user, "join")).status_code == 200
    first = _caller(world, base_url, user)
    await first.start()
    await first.camera_on()
    assert (await post(world.call, user, "switch", "video")).status_code == 200
    await first.stop()
    assert (await post(world.call, user, "leave")).status_code == 200
    assert (await post(world.call, user, "join")).status_code == 200
    again = _caller(world, base_url, user)
    await again.start()
    try:
        await again.camera_on()
        await asyncio.sleep(HOLD)
        assert (await post(world.call, user, "end")).status_code == 200
    finally:
        await again.stop()


def _run(
    settings: ClinicSettings, users: tuple[str, ...], play: Any = _switching_call
) -> tuple[World, dict[str, Any]]:
    # A loaded machine answers slowly; what is judged here is the media, not the latency.
    with (
        running_clinic(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        world = seed(client)

        async def calls() -> None:
            await asyncio.gather(*(play(world, base_url, u) for u in users))

        asyncio.run(calls())
        return world, {user: _scans(world, user) for user in users}


def _settings(tmp_path: Path, *faults: str) -> ClinicSettings:
    return ClinicSettings(
        data_dir=tmp_path,
        support_token=SUPPORT_TOKEN,
        # The two callers switch together: a slow negotiation makes their switches overlap,
        # which switch-race needs (and which the other faults do not mind).
        switch_negotiation_seconds=0.5 if "switch-race" in faults else 0.0,
        media="real",
        faults=frozenset(faults),
    )


def _texts(scan: MediaScan) -> set[str]:
    return {text for text, _ in scan.audio} | {text for text, _ in scan.video}


def test_each_segment_records_what_its_caller_sent(tmp_path: Path) -> None:
    _world, scans = _run(_settings(tmp_path), ("alice", "bob"))
    for user in ("alice", "bob"):
        segments = scans[user]
        assert [len(segments.get(m, [])) for m in ("audio", "video")] == [2, 1]
        mine = codes(user)
        for scan in segments["audio"]:
            assert {text for text, _ in scan.audio} == {mine.audio}
            assert scan.video == [] and scan.frames_sampled == 0
        video = segments["video"][0]
        assert {text for text, _ in video.video} == {mine.video}
        assert video.frames_sampled > 0 and video.unreadable_at == []
        assert {text for text, _ in video.audio} == {mine.audio}


@pytest.mark.parametrize(
    "fault", ["switch-recording-misattribution", "switch-race", "media-preroll-shared"]
)
def test_a_misfiled_or_spliced_segment_carries_the_other_callers_media(
    tmp_path: Path, fault: str
) -> None:
    _world, scans = _run(_settings(tmp_path, fault), ("alice", "bob"))
    theirs = {
        user: {codes(u).audio, codes(u).video} for u, user in (("bob", "alice"), ("alice", "bob"))
    }
    foreign = {
        user: set().union(*(_texts(s) for m in scans[user].values() for s in m)) & theirs[user]
        for user in scans
    }
    assert any(foreign.values()), foreign


async def _switching_together(world: World, base_url: str, users: tuple[str, ...]) -> None:
    """Every user joins, then all turn their cameras on and switch to video at the same
    moment (as the switch suite's phases do), then end."""
    post = asyncio.to_thread
    for user in users:
        assert (await post(world.call, user, "join")).status_code == 200
    callers = [_caller(world, base_url, u) for u in users]
    try:
        await asyncio.gather(*(c.start() for c in callers))
        await asyncio.sleep(HOLD)
        await asyncio.gather(*(c.camera_on() for c in callers))
        switched = await asyncio.gather(*(post(world.call, u, "switch", "video") for u in users))
        assert [r.status_code for r in switched] == [200] * len(users)
        await asyncio.sleep(HOLD)
        ended = await asyncio.gather(*(post(world.call, u, "end") for u in users))
        assert [r.status_code for r in ended] == [200] * len(users)
    finally:
        await asyncio.gather(*(c.stop() for c in callers))


def _together(settings: ClinicSettings, users: tuple[str, ...]) -> dict[str, MediaScan]:
    """Each user's video segment, recorded while every user switched at the same moment."""
    with (
        running_clinic(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        world = seed(client)
        asyncio.run(_switching_together(world, base_url, users))
        return {user: _scans(world, user)["video"][0] for user in users}


def test_calls_switching_at_the_same_moment_each_record_their_own_camera(tmp_path: Path) -> None:
    videos = _together(_settings(tmp_path), ("alice", "bob"))
    for user, video in videos.items():
        assert {text for text, _ in video.video} == {codes(user).video}
        assert video.unreadable_at == []


def test_crossed_tracks_record_one_calls_camera_on_the_other_calls_tape(tmp_path: Path) -> None:
    users = ("alice", "bob")
    videos = _together(_settings(tmp_path, "media-tracks-crossed"), users)
    seen = {user: {text for text, _ in video.video} for user, video in videos.items()}
    # The call renegotiated last gets both cameras; the other records none of its own.
    crossed = [u for u in users if codes(_other(u)).video in seen[u]]
    assert crossed, seen
    assert any(codes(u).video not in seen[u] for u in users), seen


def _other(user: str) -> str:
    return "bob" if user == "alice" else "alice"


def test_a_caller_who_hangs_up_and_joins_again_is_recorded_again(tmp_path: Path) -> None:
    _world, scans = _run(_settings(tmp_path), ("alice",), play=_rejoining_call)
    video = scans["alice"]["video"][0]
    assert {text for text, _ in video.video} == {codes("alice").video}
    assert video.unreadable_at == []
    assert {text for text, _ in video.audio} == {codes("alice").audio}
