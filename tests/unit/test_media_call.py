"""Real calls without I/O: the profile's `media:` section, the signalling it shapes, what each
flow does to a caller, and which canary a caller's camera and microphone carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.adapters.calls import media_plan
from harness.media_call import MediaAction, MediaPlan, Signalling, codes_for
from harness.models import Actor, Canary
from harness.profile import load_profile

CLINIC = load_profile("clinic").profile


def _with_media(**changes: Any) -> dict[str, Any]:
    doc = CLINIC.model_dump(by_alias=True, exclude_none=True)
    media = json.loads(json.dumps(doc["media"]))
    for path, value in changes.items():
        where = media
        *parents, last = path.split(".")
        for part in parents:
            where = where[part]
        where[last] = value
    return {**doc, "media": media}


def test_the_clinic_profile_says_how_its_calls_are_signalled() -> None:
    plan = media_plan(CLINIC)
    assert plan is not None
    assert plan.action("join") == MediaAction(after="start")
    assert plan.action("switch_to_video") == MediaAction(before="camera_on", hold=True)
    assert plan.action("switch_to_audio") == MediaAction(after="camera_off", hold=True)
    assert plan.action("end") == MediaAction(after="stop", hold=True)
    assert plan.action("withdraw_consent") == MediaAction()


def test_a_media_section_naming_an_unknown_flow_or_read_is_refused() -> None:
    with pytest.raises(ValueError, match="did you mean 'switch_to_video'"):
        type(CLINIC).model_validate(_with_media(**{"flows.camera_on": ["switch_to_vdeo"]}))
    with pytest.raises(ValueError, match=r"media\.fetch"):
        type(CLINIC).model_validate(_with_media(fetch="recording mediaa"))


def test_an_offer_template_needs_the_sdp_and_only_knows_sdp_and_call() -> None:
    with pytest.raises(ValueError, match="no \\{\\{sdp\\}\\}"):
        type(CLINIC).model_validate(_with_media(**{"signalling.offer": {"type": "offer"}}))
    bad = {"type": "offer", "sdp": "{{sdp}}", "room": "{{room}}"}
    with pytest.raises(ValueError, match="unknown placeholder \\{\\{room\\}\\}"):
        type(CLINIC).model_validate(_with_media(**{"signalling.offer": bad}))


def test_signalling_fills_the_offer_and_picks_the_answer_out_of_other_messages() -> None:
    talk = Signalling(
        offer={"kind": "offer", "room": "call-{{call}}", "body": {"sdp": "{{sdp}}"}},
        answer_type="answer",
        answer_sdp="desc",
        type_field="kind",
    )
    assert json.loads(talk.render_offer("v=0 x", "7")) == {
        "kind": "offer",
        "room": "call-7",
        "body": {"sdp": "v=0 x"},
    }
    assert talk.parse_answer('{"kind": "joined", "desc": "no"}') is None
    assert talk.parse_answer("not json") is None
    assert talk.parse_answer('{"kind": "answer", "desc": "v=0 y"}') == "v=0 y"
    assert talk.is_refusal('{"kind": "nope"}', "nope")


def test_a_caller_shows_their_name_and_says_their_name_canary() -> None:
    ada = Actor("p1", "patient", display_name="Ada Zqabc123 Lovelace")
    canaries = (
        Canary("zqnote9", "p1", "note", "notes", resource="appointment:p1:0"),
        Canary("zqabc123", "p1", "name", "display name"),
        Canary("zqother1", "p2", "name", "display name"),
    )
    codes = codes_for(ada, canaries)
    assert codes is not None
    assert (codes.video, codes.audio) == ("Ada Zqabc123 Lovelace", "zqabc123")
    assert codes_for(Actor("p3", "patient"), canaries) is None


def test_what_is_left_of_the_hold_counts_the_time_the_segment_has_been_open() -> None:
    plan = MediaPlan(hold_seconds=1.6)
    assert plan.left_to_hold(None, 10.0) == 1.6  # opening unknown: the whole hold
    assert plan.left_to_hold(10.0, 10.0) == 1.6
    assert abs(plan.left_to_hold(10.0, 10.5) - 1.1) < 1e-9
    assert plan.left_to_hold(10.0, 12.0) == 0.0  # a look as long as the hold held it
