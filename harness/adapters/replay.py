"""The access replay: an earlier read, repeated with another session's credentials, with the
same Range and body it was sent with. A write marked `replay: as-others` is one of these: its
body holds the owner's own values, so if the app applies it for someone else, nothing the
ownership model records has changed."""

from __future__ import annotations

from dataclasses import replace

from harness.adapters.http import HttpDriver
from harness.client import Session
from harness.client.reads import Reader
from harness.models import Observation
from harness.profile.model import ReadSpec
from harness.profile.steps import Prepared

__all__ = ["replay_as"]

_REPLAYED = ReadSpec.model_validate({"get": "/", "name": "replayed", "replay": False})


async def replay_as(
    http: HttpDriver, session: Session, observation: Observation
) -> Observation | None:
    client = http.client
    if not observation.read:  # marked replayable, or not, when it was read
        return None
    extra: dict[str, str] = dict(observation.sent_headers)
    if observation.byte_range is not None:
        extra["Range"] = f"bytes={observation.byte_range[0]}-{observation.byte_range[1]}"
    if observation.sent_content_type:
        extra["Content-Type"] = observation.sent_content_type
    prep = Prepared(observation.method, observation.url, observation.read)
    about = observation.about or observation.actor
    step = f"access/{observation.actor}->{session.actor.id}"
    route = observation.endpoint
    if observation.sent_body:
        return await _with_body(http, session, prep, step, observation, about, extra)
    flow = Reader(client, session, step, _REPLAYED, about, None).checked(prep, extra, route)
    obs = await http.run(flow)
    return replace(obs, entity=observation.entity)


async def _with_body(
    http: HttpDriver,
    session: Session,
    prep: Prepared,
    step: str,
    original: Observation,
    about: str,
    extra: dict[str, str],
) -> Observation:
    """A read with a body (a search POSTed) is sent once, with the bytes it was sent with."""
    client = http.client
    request = client.request(
        session if session.authenticated or session.forged else None,
        prep,
        step,
        actor=session.actor,
        route=original.endpoint,
        extra=extra,
        retry=False,
    )
    obs = await http.send(request, content=original.sent_body)
    obs = replace(
        obs,
        read=original.read,
        about=about if about != session.actor.id else "",
        entity=original.entity,
    )
    await http.run(client.judge(session, obs, original.endpoint, about))
    return obs
