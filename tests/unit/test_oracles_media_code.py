"""The media oracle reads whose face and voice a recording holds, from decoded frames and sound."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from harness.canaries import make_canary
from harness.client.reads import joined
from harness.coverage import Coverage
from harness.media_canary import encode_webm
from harness.models import Canary, CanaryKind, Observation, SurfaceKind
from harness.oracles import Judge, OracleContext
from harness.oracles.media_code import is_container, scan_media
from tests.worlds import make_world as build_world

RNG = random.Random(26)
USERS = ("p1", "p2", "p3")
CANARY = {u: Canary(make_canary(RNG), u, CanaryKind.NAME, "display name") for u in USERS}
WORLD = build_world(USERS, {"c1": ["p1"], "c2": ["p2", "p3"]}, CANARY.values())


def recording_obs(actor: str, body: bytes) -> Observation:
    return Observation(
        actor=actor,
        step="switch/p2/switch-to-video",
        method="GET",
        url="/api/recordings/7/media?token=t",
        endpoint="GET /api/recordings/{id}/media",
        status=200,
        headers=(("content-type", "video/webm"),),
        body=body,
        time=1000.0,
        content_type="video/webm",
    )


def judge(coverage: Coverage | None = None) -> Judge:
    return Judge(OracleContext.for_world(WORLD, coverage=coverage), ["media-canary"])


@pytest.fixture(scope="module")
def own() -> bytes:
    c = CANARY["p2"].value
    return encode_webm(video=[(c, 2.0)], audio=[(c, 3.0)])


@pytest.fixture(scope="module")
def mixed() -> bytes:
    mine, theirs = CANARY["p2"].value, CANARY["p3"].value
    return encode_webm(video=[(mine, 1.0), (theirs, 1.0)], audio=[(mine, 3.0), (theirs, 3.0)])


def test_the_canary_is_in_the_pixels_not_the_bytes(own: bytes) -> None:
    assert is_container(own)
    assert CANARY["p2"].value.encode() not in own
    scan = scan_media(own)
    assert {t for t, _ in scan.video} == {CANARY["p2"].value}
    assert {t for t, _ in scan.audio} == {CANARY["p2"].value}
    assert scan.frames_read == scan.frames_sampled > 0


def test_own_recording_is_silent_and_fully_covered(own: bytes) -> None:
    coverage = Coverage()
    assert judge(coverage)(recording_obs("p2", own)) == []
    assert lost_reasons(coverage) == set()


def test_assigned_clinician_may_see_it(own: bytes) -> None:
    assert judge()(recording_obs("c2", own)) == []


def test_two_users_mixed_is_an_exposure_on_both_tracks_with_offsets(mixed: bytes) -> None:
    findings = judge()(recording_obs("p2", mixed))
    surfaces = {f.surface.kind: f for f in findings}
    assert set(surfaces) == {SurfaceKind.VIDEO, SurfaceKind.AUDIO}
    assert all(f.owner == "p3" and "mixed" in f.message for f in findings)
    video_offset = float(dict(surfaces[SurfaceKind.VIDEO].extra)["offset"])
    audio_offset = float(dict(surfaces[SurfaceKind.AUDIO].extra)["offset"])
    assert 0.9 <= video_offset <= 1.5
    assert 2.5 <= audio_offset <= 4.5
    assert all(CANARY["p3"].value not in f.evidence for f in findings)


def test_another_users_recording_is_flagged_for_an_unrelated_observer(own: bytes) -> None:
    findings = judge()(recording_obs("p3", own))
    assert {f.surface.kind for f in findings} == {SurfaceKind.VIDEO, SurfaceKind.AUDIO}
    assert {f.owner for f in findings} == {"p2"}


def test_a_canary_inside_a_longer_code_is_found() -> None:
    shown = f"Ada {CANARY['p3'].value} Lovelace"
    findings = judge()(recording_obs("p2", encode_webm(video=[(shown, 1.0)], audio=[(shown, 3.0)])))
    assert {(f.surface.kind, f.owner) for f in findings} == {
        (SurfaceKind.VIDEO, "p3"),
        (SurfaceKind.AUDIO, "p3"),
    }


def lost_reasons(coverage: Coverage) -> set[str]:
    return {reason for row in coverage.rows() for reason, _ in row.reasons}


def test_unreadable_frames_are_lost_coverage_not_clean() -> None:
    body = encode_webm(video=[(CANARY["p2"].value, 1.0), (None, 1.0)])
    scan = scan_media(body)
    assert 0 < scan.frames_read < scan.frames_sampled
    assert min(scan.unreadable_at) >= 0.9
    coverage = Coverage()
    assert judge(coverage)(recording_obs("p2", body)) == []
    assert lost_reasons(coverage) == {"media:video frame without a readable code"}


def test_silent_sound_is_lost_coverage_not_clean() -> None:
    coverage = Coverage()
    assert judge(coverage)(recording_obs("p2", encode_webm(audio=[(None, 3.0)]))) == []
    assert lost_reasons(coverage) == {"media:audio without a readable code"}


def test_a_short_clip_is_not_expected_to_hold_an_audio_frame() -> None:
    coverage = Coverage()
    assert judge(coverage)(recording_obs("p2", encode_webm(audio=[(None, 1.0)]))) == []
    assert lost_reasons(coverage) == set()


def test_non_containers_are_left_to_the_byte_oracle() -> None:
    assert not is_container(b"CHAPERONE-MEDIA v1\n...")
    assert judge()(recording_obs("p3", b"plain header " + CANARY["p2"].value.encode())) == []


def test_an_observation_that_is_a_range_or_an_error_is_not_decoded(own: bytes) -> None:
    assert judge()(replace(recording_obs("p3", own), status=404)) == []
    coverage = Coverage()
    head = ranged_obs("p3", own, 0, 63)
    assert judge(coverage)(head) == []  # a chunk is no playable file: no finding, no loss
    assert lost_reasons(coverage) == set()


def ranged_obs(actor: str, whole: bytes, first: int, last: int) -> Observation:
    obs = recording_obs(actor, whole[first : last + 1])
    header = ("content-range", f"bytes {first}-{last}/{len(whole)}")
    return replace(obs, status=206, byte_range=(first, last), headers=(*obs.headers, header))


def test_the_ranged_halves_joined_up_are_decoded_as_the_file_a_player_plays(own: bytes) -> None:
    """A server may answer ranged reads from another path than whole downloads (a chunk
    cache): the halves a player fetched, joined, are judged for whose face and voice they
    hold, which neither chunk shows on its own."""
    head, rest = ranged_obs("p3", own, 0, 63), ranged_obs("p3", own, 64, len(own) - 1)
    (whole,) = joined(head, rest)
    assert whole.complete and whole.body == own and whole.status == 206
    assert whole.window == (head.sent_at, rest.time)
    findings = judge()(whole)
    assert {(f.surface.kind, f.owner) for f in findings} == {
        (SurfaceKind.VIDEO, "p2"),
        (SurfaceKind.AUDIO, "p2"),
    }
    assert judge()(replace(whole, actor="p2")) == []  # the owner's own, joined: silent


def test_a_range_that_spans_the_whole_file_is_decoded_as_it_is(own: bytes) -> None:
    """A player's `Range: bytes=0-` is answered 206 with every byte: a file, not a chunk."""
    everything = ranged_obs("p3", own, 0, len(own) - 1)
    assert everything.complete
    assert {f.owner for f in judge()(everything)} == {"p2"}


def test_halves_that_do_not_add_up_to_one_file_are_not_joined(own: bytes) -> None:
    head, rest = ranged_obs("p3", own, 0, 63), ranged_obs("p3", own, 64, len(own) - 1)
    assert joined(head, replace(rest, body=rest.body[:-1])) == []  # short of its range
    assert joined(head, ranged_obs("p3", own + b"x", 64, len(own))) == []  # another size
    assert joined(replace(head, status=200, byte_range=None), rest) == []
    # ...and a 206 that claims the whole file but holds less is no file either
    short = replace(ranged_obs("p3", own, 0, len(own) - 1), body=own[:-1])
    assert not short.complete
    assert judge()(short) == []


def test_a_media_leak_names_the_leaked_datum_and_object_as_a_byte_leak_does() -> None:
    """One canary-finding constructor: triage keys a face on the same object as a name."""
    from reports.groups import leaked_object

    owned = replace(CANARY["p3"], resource="recording:p3:1")
    world = build_world(USERS, {"c1": ["p1"], "c2": ["p2", "p3"]}, [CANARY["p2"], owned])
    check = Judge(OracleContext.for_world(world), ["media-canary", "canary-leak"])
    media = encode_webm(video=[(owned.value, 1.0)], audio=[(owned.value, 3.0)])
    text = recording_obs("p2", owned.value.encode())
    found = check(recording_obs("p2", media)) + check(replace(text, content_type="text/plain"))
    assert {f.surface.kind for f in found} >= {SurfaceKind.VIDEO, SurfaceKind.AUDIO}
    for finding in found:
        assert dict(finding.extra)["label"] == "display name"
        assert dict(finding.extra)["resource"] == "recording:p3:1"
    assert {leaked_object(f).ident for f in found} == {"recording:p3:1"}


def expecting(entity: str, coverage: Coverage, *, live: bool) -> Judge:
    """A judge whose world's ledger holds p2's caller on call `c`, heard for 3 s (`live`) or
    never, before the flow that closed the call's one segment, listed as `entity`."""
    from harness.media_ledger import CallLedger

    ledger = CallLedger()
    if live:
        ledger.live("c", "p2", 0.0, CANARY["p2"].value)
    ledger.closing("c", 3.0, 3.1)
    ledger.recorded(entity, "c")
    world = replace(WORLD, calls=ledger)
    return Judge(OracleContext.for_world(world, coverage=coverage), ["media-canary"])


def silent_clip() -> Observation:
    return replace(recording_obs("p2", encode_webm(audio=[(None, 1.0)])), entity="recording:7")


def test_a_short_silent_recording_of_a_call_whose_caller_was_heard_is_lost_not_clean() -> None:
    coverage = Coverage()
    assert expecting("recording:7", coverage, live=True)(silent_clip()) == []
    (reason,) = lost_reasons(coverage)
    assert reason.startswith("media:audio without the code its caller sent (recording:7 of c")
    assert "0.00-1.0" in reason


def test_the_same_recording_with_nobody_on_the_call_expects_nothing() -> None:
    coverage = Coverage()
    assert expecting("recording:7", coverage, live=False)(silent_clip()) == []
    assert lost_reasons(coverage) == set()


def test_a_recording_holding_its_callers_code_meets_the_expectation(own: bytes) -> None:
    coverage = Coverage()
    obs = replace(recording_obs("p2", own), entity="recording:7")
    assert expecting("recording:7", coverage, live=True)(obs) == []
    assert lost_reasons(coverage) == set()


def test_a_recording_is_decoded_once_however_many_observers_receive_it(
    monkeypatch: pytest.MonkeyPatch, mixed: bytes
) -> None:
    from harness.oracles import media_code

    scans: list[bytes] = []
    real = media_code.scan_media

    def counted(body: bytes, **kw: float) -> media_code.MediaScan:
        scans.append(body)
        return real(body, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(media_code, "scan_media", counted)
    monkeypatch.setattr(media_code, "_SCANS", media_code._Scans())
    body = mixed + b"\0"  # other bytes than the module's fixture: a cold cache
    # Each observer is judged on their own: the owner's neighbour leaks to p2, not to c2.
    assert {f.owner for f in judge()(recording_obs("p2", body))} == {"p3"}
    assert judge()(recording_obs("c2", body)) == []
    assert {f.owner for f in judge()(recording_obs("p2", body))} == {"p3"}
    assert len(scans) == 1


def test_a_scan_cut_by_its_time_cap_is_decoded_again(
    monkeypatch: pytest.MonkeyPatch, own: bytes
) -> None:
    from harness.oracles import media_code

    calls: list[int] = []

    def capped(body: bytes, **kw: float) -> media_code.MediaScan:
        calls.append(1)
        return media_code.MediaScan(cut=["media:video decode cap"])

    monkeypatch.setattr(media_code, "scan_media", capped)
    monkeypatch.setattr(media_code, "_SCANS", media_code._Scans())
    coverage = Coverage()
    judge(coverage)(recording_obs("p2", own))
    judge(coverage)(recording_obs("p2", own))
    assert len(calls) == 2 and "media:video decode cap" in lost_reasons(coverage)
