"""The call ledger says which recordings must hold a readable audio code, from what the
harness's own callers sent, never from the recording."""

from __future__ import annotations

from harness.media_ledger import VIDEO_SECONDS, CallLedger, Expected, need_seconds

CALL = "appointment:p1:0"
CODE = "zq0123456789"  # a 12-character canary: a 0.6 s frame
NEED = need_seconds(CODE)


def ledger(
    *closings: tuple[float, float], since: float = 0.0, until: float | None = None
) -> CallLedger:
    book = CallLedger()
    book.live(CALL, "p1", since, CODE)
    if until is not None:
        book.hung_up(CALL, "p1", until)
    for started, done in closings:
        book.closing(CALL, started, done)
    book.recorded("recording:7", CALL)
    return book


def test_a_12_character_code_needs_one_frame_of_sound_and_two_symbols() -> None:
    # 0.6 s of frame, 40 ms for the phase, 100 ms of lag (tests/unit/test_media_canary.py
    # reads the code from any window of that length, through two Opus generations).
    assert abs(NEED - 0.74) < 1e-9


def test_a_caller_heard_long_enough_before_every_closing_expects_its_code() -> None:
    book = ledger((3.0, 3.2), (6.0, 6.1))
    assert book.expected("recording:7") == Expected(CALL, (CODE,))


def test_one_short_segment_leaves_the_whole_call_without_an_expectation() -> None:
    # 3.2 -> 3.6 is under a frame: which recording that segment is, nobody can tell.
    assert ledger((3.0, 3.2), (3.6, 3.7)).expected("recording:7") is None


def test_no_caller_or_a_caller_gone_before_the_closing_expects_nothing() -> None:
    book = CallLedger()
    book.closing(CALL, 5.0, 5.1)
    book.recorded("recording:7", CALL)
    assert book.expected("recording:7") is None
    assert ledger((5.0, 5.1), until=0.5).expected("recording:7") is None


def test_a_recording_of_a_call_the_harness_never_drove_or_never_listed_expects_nothing() -> None:
    book = ledger((3.0, 3.2))
    book.recorded("recording:8", "appointment:p2:0")
    assert book.expected("recording:8") is None
    assert book.expected("recording:9") is None


def test_no_closing_yet_means_no_recording_to_expect_anything_of() -> None:
    assert ledger().expected("recording:7") is None


def test_two_callers_halves_do_not_add_up_to_a_frame() -> None:
    book = CallLedger()
    # Two stints of 0.5 s and 0.6 s, each under NEED (0.74 s), 1.1 s in all.
    book.live(CALL, "p1", 0.0, CODE)
    book.hung_up(CALL, "p1", 0.5)
    book.live(CALL, "p1", 1.2, CODE)
    book.closing(CALL, 1.8, 1.9)
    book.recorded("recording:7", CALL)
    assert book.expected("recording:7") is None


# -- pictures, per call (the segments are countable: one video segment) -----------------

READ = ("GET /api/recordings/{recording_id}/media", "p1", "p1")


def filmed(camera_on: float, camera_off: float | None) -> CallLedger:
    """Audio from 0, a switch to video at 3.0-3.2, back to audio (or the end) at 6.0-6.1,
    the camera on at `camera_on` (before the switch) and off at `camera_off`."""
    book = ledger((3.0, 3.2), (6.0, 6.1))
    book.camera(CALL, "p1", camera_on)
    if camera_off is not None:
        book.camera_off(CALL, "p1", camera_off)
    book.recorded("recording:8", CALL)
    return book


def test_a_filmed_call_whose_recordings_hold_no_picture_is_missing_its_video() -> None:
    book = filmed(2.5, 6.2)
    book.judged("recording:7", False, READ)
    book.judged("recording:8", False, READ)
    (missing,) = book.missing_video()
    assert missing.call == CALL and missing.entities == ("recording:7", "recording:8")
    assert (missing.route, missing.observer, missing.owner) == READ


def test_one_recording_with_a_picture_is_enough_for_the_call() -> None:
    book = filmed(2.5, 6.2)
    book.judged("recording:7", False, READ)  # the audio segment
    book.judged("recording:8", True, READ)  # the video one
    assert book.missing_video() == []
    # a picture read once stays read, whoever reads the recording again
    book.judged("recording:8", False, READ)
    assert book.missing_video() == []


def test_a_camera_on_only_during_the_audio_segment_or_too_briefly_expects_no_picture() -> None:
    # switched on before the switch and off as it finished: the video segment had no camera
    during_audio = filmed(2.5, 3.2)
    during_audio.judged("recording:7", False, READ)
    assert during_audio.missing_video() == []
    # on for half a second of the video segment
    brief = filmed(2.5, 3.7)
    brief.judged("recording:7", False, READ)
    assert brief.missing_video() == []


def test_a_camera_on_for_video_seconds_of_the_video_segment_expects_a_picture() -> None:
    # 0.8 s: 12 frames, of which the oracle reads every fifth and every keyframe
    just = filmed(2.5, 3.2 + VIDEO_SECONDS + 0.01)
    just.judged("recording:7", False, READ)
    assert [m.call for m in just.missing_video()] == [CALL]


def test_a_call_none_of_whose_recordings_was_judged_expects_nothing_yet() -> None:
    assert filmed(2.5, None).missing_video() == []


# -- pictures, per segment -------------------------------------------------------------------


def switched_twice(*listed: str) -> CallLedger:
    """Audio, video (3.2-6.0), audio, video again (9.1-12.0), each segment ended by a flow;
    the camera on for both video segments; the app lists `listed` as the call's recordings."""
    book = CallLedger()
    book.live(CALL, "p1", 0.0, CODE)
    for started, done in ((3.0, 3.2), (6.0, 6.1), (9.0, 9.1), (12.0, 12.1)):
        book.closing(CALL, started, done)
    book.camera(CALL, "p1", 2.5)
    book.camera_off(CALL, "p1", 6.2)
    book.camera(CALL, "p1", 8.5)
    book.camera_off(CALL, "p1", 12.2)
    for entity in listed:
        book.recorded(entity, CALL)
    return book


SEGMENTS = ("recording:1", "recording:2", "recording:3", "recording:4")


def test_a_second_video_segment_taped_without_its_camera_is_missing_beside_the_first() -> None:
    book = switched_twice(*SEGMENTS)
    for entity in SEGMENTS:
        book.judged(entity, entity == "recording:2", READ)  # only the first video segment
    (missing,) = book.missing_video()
    assert (missing.filmed, missing.pictured) == (2, 1)
    assert missing.entities == SEGMENTS
    book.judged("recording:4", True, READ)  # the second one, read again, holds its picture
    assert book.missing_video() == []


def test_segments_that_cannot_be_counted_fall_back_to_one_picture_per_call() -> None:
    # The app files the whole call as one recording: one picture in it is enough.
    whole = switched_twice("recording:1")
    whole.judged("recording:1", True, READ)
    assert whole.missing_video() == []
    # Not every segment's recording was judged: the two judged may be any two segments.
    some = switched_twice(*SEGMENTS)
    some.judged("recording:2", True, READ)
    some.judged("recording:3", False, READ)
    assert some.missing_video() == []
    # and with no picture at all it is still missing, as one filmed segment
    none = switched_twice(*SEGMENTS)
    none.judged("recording:3", False, READ)
    (missing,) = none.missing_video()
    assert (missing.filmed, missing.pictured) == (1, 0)
