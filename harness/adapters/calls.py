"""Real calls from a profile's `media:` section: a caller per user and call (issue 26)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.client import Session
from harness.media_call import MediaPlan, Signalling, codes_for
from harness.profile.model import TargetProfile
from harness.profile.steps import json_pointer
from harness.rtc_caller import Caller
from harness.world import Resource, World

__all__ = ["make_caller", "media_plan", "recorded_in"]


def make_caller(
    profile: TargetProfile,
    base_url: str,
    world: World | None,
    session: Session,
    resource: Resource | None,
) -> Caller | None:
    spec = profile.media
    if spec is None or resource is None or world is None:
        return None
    codes = codes_for(session.actor, world.ownership.canaries)
    call = resource.vars.get(spec.signalling.call)
    if codes is None or call is None:
        return None
    signalling = spec.signalling
    return Caller(
        url="ws" + base_url.removeprefix("http") + signalling.websocket,
        headers=session.credentials(),
        call=str(call),
        codes=codes,
        signalling=Signalling(
            offer=signalling.offer,
            answer_type=signalling.answer.type,
            answer_sdp=signalling.answer.sdp,
            type_field=signalling.type_field,
        ),
        refused=signalling.refused or "",
    )


def media_plan(profile: TargetProfile) -> MediaPlan | None:
    spec = profile.media
    if spec is None:
        return None
    flows = spec.flows
    return MediaPlan(
        start=tuple(flows.start),
        camera_on=tuple(flows.camera_on),
        camera_off=tuple(flows.camera_off),
        stop=tuple(flows.stop),
        hold_seconds=spec.hold_seconds,
    )


def recorded_in(profile: TargetProfile, world: World | None, item: Mapping[str, Any]) -> str | None:
    """The key of the resource whose call a listed recording `item` was made in."""
    spec = profile.media
    if spec is None or spec.stored_call is None or world is None:
        return None
    try:
        call = json_pointer(item, spec.stored_call)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if call is None:
        return None
    var = spec.signalling.call
    found = [r.key for r in world.resources if str(r.vars.get(var, "")) == str(call)]
    return found[0] if len(found) == 1 else None
