"""`chaperone run --media real` against the local clinic serving real calls: the switch suite's
mid-call switch is played with headless WebRTC callers, and the recordings are judged from
their pixels and sound. The clinic writes no header in real mode, so the byte oracle has
nothing to read in a recording: what is caught there is the media oracle's alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEDIA_SURFACES = {"media:video", "media:audio"}


def run_real(
    out: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    every_scenario: bool = False,
    scenario: str = "switch-mid-call",
    suite: str = "switch",
) -> dict[str, Any]:
    args = ["run", "--suite", suite, "--media", "real"]
    args += [] if every_scenario else ["--scenario", scenario]
    # No heavy owner: its `each` reads sample its five oldest recordings (archived, no real
    # media), so a leak filed into its calls would never be decoded.
    args += ["--patients", "3", "--clinicians", "2", "--population", "heavy=0"]
    args += ["--out", str(out), *extra]
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, **(env or {})},
    )
    report = out / "report.json"
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def run_on_this_clinic(
    tmp_path: Path, scenario: str = "switch-mid-call", suite: str = "switch"
) -> dict[str, Any]:
    """`run_real` against a real-media clinic served from this process, so that a test can
    change how it records (monkeypatch) and watch the harness's verdict on it."""
    from clinic.settings import ClinicSettings
    from tests.clinic.server import _free_port, running_clinic
    from tests.clinic.world import SUPPORT_TOKEN

    smtp, sms = _free_port(), _free_port()
    settings = ClinicSettings(
        data_dir=tmp_path / "clinic",
        support_token=SUPPORT_TOKEN,
        media="real",
        smtp=f"127.0.0.1:{smtp}",
        sms_webhook=f"http://127.0.0.1:{sms}/sms",
    )
    with running_clinic(settings) as url:
        return run_real(
            tmp_path / "out",
            *("--target", url, "--listen", f"127.0.0.1:{smtp},{sms}"),
            env={"CHAPERONE_SUPPORT_TOKEN": SUPPORT_TOKEN},
            scenario=scenario,
            suite=suite,
        )


def test_the_incidents_misattribution_is_caught_in_the_recordings_pixels_and_sound(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--faults", "switch-recording-misattribution")
    in_media = [f for f in report["findings"] if f["surface"]["kind"] in MEDIA_SURFACES]
    assert in_media and {f["check"] for f in in_media} == {"media-canary"}
    # No header in a real recording: nothing of the patient is in its bytes.
    assert not [f for f in report["findings"] if f["surface"]["kind"] == "media"]
    assert all(dict(f["extra"]).get("offset") for f in in_media)


def test_a_segment_spliced_with_another_calls_preroll_is_caught_by_the_media_oracle_alone(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--faults", "media-preroll-shared")
    assert report["verdict"] == "fail"
    assert report["findings"]
    assert {(f["check"], f["surface"]["kind"]) for f in report["findings"]} == {
        ("media-canary", "media:audio")
    }


def test_a_player_served_another_recording_through_ranged_reads_is_caught_in_its_pixels(
    tmp_path: Path,
) -> None:
    """Only the ranged reads go wrong, and a chunk of a real recording names nobody in its
    bytes: the halves a player fetched, joined back up and decoded, show whose face and voice
    it plays. The whole-file download of the same recording is right."""
    report = run_real(tmp_path, "--faults", "ranged-media-cache-leak")
    assert report["verdict"] in ("fail", "error"), report["reasons"]
    in_media = [f for f in report["findings"] if f["surface"]["kind"] in MEDIA_SURFACES]
    assert in_media and {f["check"] for f in in_media} == {"media-canary"}
    assert not [f for f in report["findings"] if f["surface"]["kind"] == "media"]


def test_the_clean_clinic_with_real_calls_is_clean_and_fully_read_over_three_seeds(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--extra-seeds", "2")
    assert report["verdict"] == "pass", report["findings"][:3] or report["errors"]
    assert report["findings"] == []
    assert report["coverage"]["lost"] == 0


# Seeds 3-22, five to a run, every switch scenario with real calls: with seeds 0-2 above, the
# issue's "0 findings on the clean clinic over 20 seeds" for real media (~140 s a seed here).
@pytest.mark.proof
@pytest.mark.parametrize("first", [3, 8, 13, 18])
def test_the_clean_clinic_with_real_calls_is_clean_in_every_scenario_over_more_seeds(
    tmp_path: Path, first: int
) -> None:
    report = run_real(tmp_path, "--seed", str(first), "--extra-seeds", "4", every_scenario=True)
    assert report["verdict"] == "pass", report["findings"][:3] or report["reasons"]
    assert report["findings"] == []
    assert report["coverage"]["lost"] == 0


def test_crossed_tracks_are_caught_in_the_other_calls_pictures(tmp_path: Path) -> None:
    report = run_real(tmp_path, "--faults", "media-tracks-crossed")
    in_video = [f for f in report["findings"] if f["surface"]["kind"] == "media:video"]
    assert in_video and {f["check"] for f in in_video} == {"media-canary"}
    assert all(dict(f["extra"]).get("offset") for f in in_video)
    # ...and the calls whose camera went to the other tape hold no picture of their own:
    # lost coverage that makes the verdict an error, more than a fail
    assert report["verdict"] == "error", report["reasons"]
    reasons = report["coverage"]["lost_reasons"]
    assert any(r.startswith("media:video without the camera") for r in reasons), reasons


def test_a_clinic_that_records_silence_while_its_callers_speak_never_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every recording is the clinic's ~1 s of silence (too short for the length rule alone),
    made while the harness's callers were heard: an error naming each recording, never a
    pass, though the silent reads are under 5 % of all reads."""
    from clinic import media_rtc

    monkeypatch.setattr(media_rtc.Tape, "add_audio", lambda tape, pcm: None)
    report = run_on_this_clinic(tmp_path)
    assert report["verdict"] == "error", report["reasons"]
    assert report["findings"] == [] and report["errors"] == []
    assert report["coverage"]["ratio"] >= 0.95  # the share alone would have passed it
    assert any("held none of the code" in r for r in report["reasons"]), report["reasons"]
    reasons = report["coverage"]["lost_reasons"]
    silent = [r for r in reasons if r.startswith("media:audio without the code its caller sent")]
    # Each names the recording, the call and the stretch of it that held no code.
    assert silent and all(" of appointment:" in r and "0.00-" in r for r in silent), reasons


def test_a_clinic_that_records_silence_while_the_pages_speak_never_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same silent recorder, with Chromium's pages as the callers: each of their calls'
    recordings is named, as the headless callers' are."""
    from clinic import media_rtc

    monkeypatch.setattr(media_rtc.Tape, "add_audio", lambda tape, pcm: None)
    report = run_on_this_clinic(tmp_path, "switch-back-to-audio", "browser")
    assert report["verdict"] == "error", report["reasons"]
    assert report["findings"] == [] and report["errors"] == []
    reasons = report["coverage"]["lost_reasons"]
    silent = [r for r in reasons if r.startswith("media:audio without the code its caller sent")]
    calls = {r.split(" of ", 1)[1].split(",")[0] for r in silent}
    assert len(calls) == 3, reasons  # every page's call: 3 patients, 3 segments each


@pytest.mark.parametrize(
    ("suite", "scenario"),
    [
        ("switch", "switch-mid-call"),
        # Chromium's pages as the callers: what they sent goes in the same ledger. Before
        # it did, this build passed the browser suite (every recording held its audio code).
        ("browser", "switch-back-to-audio"),
    ],
)
def test_a_clinic_that_tapes_no_camera_never_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suite: str, scenario: str
) -> None:
    """The recorder keeps the sound of a video consultation and drops its pictures (an app
    that tapes only the tracks a call began with): every recording holds its caller's audio
    code, so only the callers' own record of their camera says a picture is missing."""
    from clinic import media_rtc

    monkeypatch.setattr(media_rtc.Tape, "add_video", lambda tape, frame: None)
    # Each names the call and its recordings that were read.
    report = run_on_this_clinic(tmp_path, scenario, suite)
    assert_unfilmed_only(report, " of appointment:")


def assert_unfilmed_only(report: dict[str, Any], saying: str) -> None:
    """An error for pictures missing, each reason `saying` it, with every sound there."""
    from harness.coverage import MISSING_FILMED

    assert report["verdict"] == "error", report["reasons"]
    assert report["findings"] == [] and report["errors"] == []
    reasons = report["coverage"]["lost_reasons"]
    unfilmed = [r for r in reasons if r.startswith(MISSING_FILMED)]
    assert unfilmed and all(saying in r for r in unfilmed), reasons
    assert not [r for r in reasons if r.startswith("media:audio")], reasons


def test_a_second_video_segment_taped_without_its_camera_never_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder lets go of a call's camera track at the switch back to audio, expecting a
    new track when the camera returns; but the caller re-enables the same transceiver, which
    announces none, so the second video segment is taped as sound alone. The first video
    segment holds its picture: only counting the filmed segments says one is missing."""
    from clinic import media_rtc

    cut = media_rtc.MediaEndpoint.cut

    def letting_go(self: Any, consultation_id: int, next_mode: str | None) -> bytes:
        if next_mode == "audio":
            with self._lock:
                call = self._calls.get(consultation_id)
                if call is not None:
                    call.recording.pop("video", None)
        return cut(self, consultation_id, next_mode)

    monkeypatch.setattr(media_rtc.MediaEndpoint, "cut", letting_go)
    report = run_on_this_clinic(tmp_path, "repeated-switches")
    assert_unfilmed_only(report, "1 of 2 filmed segments pictured")
