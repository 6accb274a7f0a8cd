"""Real calls from a profile's `media:` section: a caller per user and call (issue 26)."""

from __future__ import annotations

from harness.client import Session
from harness.media_call import MediaPlan, Signalling, codes_for
from harness.profile.model import TargetProfile
from harness.rtc_caller import Caller
from harness.world import Resource, World

__all__ = ["make_caller", "media_plan"]


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
