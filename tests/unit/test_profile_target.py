"""ProfileTarget against a small in-process app: sessions that expire, coverage that is never
silent, lists walked to their end, listed reads repeated even under unsafe, writes replayed as
others, values discovered."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.adapters import Session
from harness.adapters.profile import ProfileTarget
from harness.canaries import OwnershipModel
from harness.client.variants import is_variant
from harness.errors import ConfigError, InfrastructureError
from harness.models import ANONYMOUS_ID, Canary, Observation
from harness.oracles import Judge
from harness.population import Counts, make_population
from harness.profile.model import TargetProfile
from harness.world import World
from scenarios.access import Replay, plan, unique_reads
from scenarios.impersonation import Impersonation, send_forged
from scenarios.writes_as_others import is_write, masked_echo, restore
from tests.unit.fakeapp import PROFILE, FakeApp, profile

BASE = "http://fake.test"


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()


def _target(app: FakeApp, **changes: Any) -> ProfileTarget:
    return ProfileTarget(profile(**changes), BASE, transport=app.transport())


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _seed_and_look(target: ProfileTarget, users: int = 2) -> tuple[World, list[Observation]]:
    world = await target.seed(
        make_population(target.profile, 0, Counts(owners=users, observers=1, per_owner=1))
    )
    seen: list[Observation] = []
    for actor in world.actors.values():
        seen += await target.look(await target.login(actor), "test/look")
    return world, seen


def _coverage(target: ProfileTarget) -> tuple[int, int, dict[str, int]]:
    rows = target.coverage.rows()
    reasons: dict[str, int] = {}
    for row in rows:
        for reason, count in row.reasons:
            reasons[reason] = reasons.get(reason, 0) + count
    return sum(r.checked for r in rows), sum(r.lost for r in rows), reasons


def test_a_look_walks_every_page_and_reads_every_entity(app: FakeApp) -> None:
    target = _target(app)
    world, seen = _run(_seed_and_look(target))
    routes = [o.endpoint for o in seen]
    assert routes.count("GET /notes") == 2 and routes.count("GET /notes (page 2)") == 2
    assert routes.count("GET /notes/{note_id}") == 6  # 3 notes each, both pages followed
    checked, lost, _ = _coverage(target)
    assert lost == 0 and checked == len(seen)
    judge = Judge.from_world(world, listing=target.listing)
    assert [f for o in seen for f in judge(o)] == []


def test_a_reset_that_answers_5xx_is_retried_and_one_that_keeps_failing_is_an_error(
    app: FakeApp,
) -> None:
    app.reset_failures = 2
    _run(_seed_and_look(_target(app)))
    assert app.requests.count("POST /reset") == 3 and app.users
    app.reset_failures = 100
    with pytest.raises(InfrastructureError, match="could not reset: POST /reset answered 500"):
        _run(_seed_and_look(_target(app)))


def test_an_expired_session_is_logged_in_again_and_nothing_is_lost(app: FakeApp) -> None:
    target = _target(app)

    async def scenario() -> tuple[int, list[Observation], int]:
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=1, observers=1, per_owner=1))
        )
        session = await target.login(next(iter(world.actors.values())))
        app.expire_all = True
        seen = await target.look(session, "test/look")
        return session.generation, seen, app.logins

    generation, seen, logins = _run(scenario())
    assert generation == 2 and logins == 2
    assert all(o.status == 200 for o in _as_profiled(seen))
    assert _coverage(target)[1] == 0


def test_a_401_that_a_relogin_does_not_cure_is_lost_coverage_not_clean(app: FakeApp) -> None:
    target = _target(app)

    async def scenario() -> list[Observation]:
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=1, observers=1, per_owner=1))
        )
        session = await target.login(next(iter(world.actors.values())))
        app.refuse_forever = True
        return await target.look(session, "test/look")

    seen = _run(scenario())
    assert seen and all(o.status == 401 for o in seen)
    checked, lost, reasons = _coverage(target)
    assert checked == 0 and lost == len(seen)
    assert reasons == {"HTTP 401 after re-login": len(seen)}


def test_a_5xx_is_lost_coverage(app: FakeApp) -> None:
    target = _target(app)

    async def scenario() -> None:
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=1, observers=1, per_owner=1))
        )
        session = await target.login(next(iter(world.actors.values())))
        app.fail_5xx = True
        await target.look(session, "test/look")

    _run(scenario())
    assert _coverage(target)[2] == {"HTTP 503": 2}


def test_a_denial_with_a_live_session_is_a_check_that_passed(app: FakeApp) -> None:
    """Repeating someone else's note as another user gets 404: checked, not lost."""
    target = _target(app)

    async def scenario() -> Observation | None:
        world, seen = await _seed_and_look(target)
        note = next(o for o in seen if o.endpoint == "GET /notes/{note_id}")
        other = next(a for a in world.actors.values() if a.id != note.actor)
        return await target.replay_as(await target.login(other), note)

    repeat = _run(scenario())
    assert repeat is not None and repeat.status == 404
    assert _coverage(target)[1] == 0


def test_a_leak_on_page_two_is_found(app: FakeApp) -> None:
    app.leak = True
    target = _target(app)
    world, seen = _run(_seed_and_look(target))
    judge = Judge.from_world(world, listing=target.listing)
    findings = [f for o in seen for f in judge(o)]
    where = {f.surface.where for f in findings}
    assert "GET /notes (page 2)" in where or "GET /notes (page 3)" in where
    assert {f.kind for f in findings} >= {"canary-leak", "foreign-note"}


def test_the_page_bound_is_reported_as_lost_coverage(app: FakeApp) -> None:
    reads = [{"get": "/me"}, {"get": "/notes", "page": {"next": "link-header", "max_pages": 1}}]
    target = _target(app, reads=reads)
    _run(_seed_and_look(target, users=1))
    assert _coverage(target)[2] == {"page bound reached (1 pages)": 1}


def test_a_listed_read_under_unsafe_is_still_repeated(app: FakeApp) -> None:
    """`unsafe` stops automatic sending only; it never silently drops a read the profile
    lists from the access matrix (it used to)."""
    target = _target(app, unsafe=["GET /notes*"])

    async def scenario() -> list[Observation | None]:
        world, seen = await _seed_and_look(target)
        notes = [o for o in seen if o.endpoint.startswith("GET /notes")]
        other = await target.login(next(iter(world.actors.values())))
        return [await target.replay_as(other, o) for o in notes]

    repeats = _run(scenario())
    assert repeats and all(r is not None for r in repeats)


def test_a_read_marked_replay_false_is_never_repeated(app: FakeApp) -> None:
    reads = [{"get": "/me"}, {"get": "/notes", "page": {"next": "link-header"}, "replay": False}]
    target = _target(app, reads=reads)

    async def scenario() -> list[Observation | None]:
        world, seen = await _seed_and_look(target)
        notes = [o for o in seen if o.endpoint.startswith("GET /notes")]
        other = await target.login(next(iter(world.actors.values())))
        return [await target.replay_as(other, o) for o in notes]

    repeats = _run(scenario())
    assert repeats and all(r is None for r in repeats)


@pytest.mark.parametrize("leaky", [False, True])
def test_a_shape_served_to_the_wrong_user_is_found_by_replaying_the_variant(
    app: FakeApp, leaky: bool
) -> None:
    """The owner reads each note, then in its other shapes (harness.client.variants). The app
    checks the owner on the JSON note and, when leaky, not on its CSV rendering. The access
    plan repeats each variant, with the `Accept` that shaped it, as the other relation classes:
    the CSV shape hands the note to an unrelated user, the plain read never does."""
    app.csv_unchecked = leaky
    target = _target(app)

    async def scenario() -> tuple[World, list[Replay], list[Observation]]:
        world, seen = await _seed_and_look(target, users=3)
        replays = [r for r in plan(world, unique_reads(seen), 0) if is_variant(r.original.endpoint)]
        sessions = {a.id: await target.login(a) for a in world.actors.values()}
        sessions[ANONYMOUS_ID] = target.anonymous()
        repeated = []
        for item in replays:
            obs = await target.replay_as(sessions[item.observer], item.original)
            assert obs is not None, item.original.endpoint
            repeated.append(obs)
        return world, replays, repeated

    world, replays, repeated = _run(scenario())
    shaped = [r for r in replays if ("Accept", "text/csv") in r.original.sent_headers]
    assert shaped and {r.why for r in shaped} == {"unrelated", "anonymous"}
    assert all(r.observer != r.original.actor for r in replays)
    judge = Judge.from_world(world, listing=target.listing)
    findings = [f for o in repeated for f in judge(o)]
    assert bool(findings) is leaky
    if leaky:
        assert {f.surface.where for f in findings} == {"GET /notes/{note_id} (variant: accept)"}
        assert all(f.owner != f.observer for f in findings)


_RENAME = {
    "put": "/users/{{user.username}}/name",
    "json": {"name": "{{user.name}}"},
    "replay": "as-others",
}


@pytest.mark.parametrize(
    ("mode", "leaks"), [("checks", False), ("echo_other", True), ("to_caller", False)]
)
def test_a_write_replayed_as_others_finds_one_that_answers_with_the_named_users_data(
    app: FakeApp, mode: str, leaks: bool
) -> None:
    """Each user renames themself to their own name; every other user then sends that same
    write, naming the owner. An app answering with the owner's record leaks the owner's notes;
    one that checks, or applies it to the caller (and answers with only what the caller sent
    of the owner's), does not. Whatever it did, the restore leaves every record as seeded."""
    setattr(app, mode, mode != "checks")
    roles: dict[str, Any] = copy.deepcopy(PROFILE["roles"])  # type: ignore[arg-type]
    user = roles["user"]
    user["fields"]["phone"] = "phone"  # private, and never sent by the rename
    user["create"][0]["json"]["phone"] = "{{user.phone}}"
    target = _target(app, roles={"user": user}, reads=[{"get": "/me"}, _RENAME])

    async def scenario() -> tuple[World, list[Observation], dict[str, str]]:
        world, seen = await _seed_and_look(target)
        before = {u: str(v["name"]) for u, v in app.users.items()}
        writes = [o for o in seen if o.endpoint == "PUT /users/{username}/name"]
        assert writes and all(o.read and o.sent_body and is_write(o) for o in writes)
        sessions = {a.id: await target.login(a) for a in world.actors.values()}

        async def session_of(who: str) -> Session:
            return sessions[who]

        replays: list[Observation] = []
        for write in writes:
            for actor in world.actors.values():
                if actor.id != write.actor and not actor.is_anonymous:
                    obs = await target.replay_as(sessions[actor.id], write)
                    assert obs is not None
                    replays.append(masked_echo(world, obs))
                    await restore(target, session_of, seen, write, actor.id)
        return world, replays, before

    world, replays, before = _run(scenario())
    judge = Judge.from_world(world, listing=target.listing)
    findings = [f for o in replays for f in judge(o)]
    assert bool(findings) is leaks
    if leaks:
        assert {f.surface.where for f in findings} == {"PUT /users/{username}/name"}
    assert before and {u: v["name"] for u, v in app.users.items()} == before


def test_an_echo_is_masked_but_the_rest_of_the_answer_is_kept() -> None:
    mine, other = "zqaaaaaaaaaa", "zqbbbbbbbbbb"
    canaries = tuple(Canary(value, "u1", "name") for value in (mine, other))
    world = World("http://x", 0, {}, OwnershipModel(canaries))
    obs = Observation(
        actor="u2",
        step="s",
        method="PUT",
        url="/u/u1",
        endpoint="PUT /u/{id}",
        status=200,
        headers=(),
        body=f'{{"name": "{mine.upper()}", "note": "{other}"}}'.encode(),
        time=0.0,
        sent_body=f'{{"name": "{mine}"}}'.encode(),
    )
    body = masked_echo(world, obs).body
    assert mine.encode() not in body.lower() and other.encode() in body
    assert len(body) == len(obs.body)


@pytest.mark.parametrize("verify", [True, False])
def test_a_forged_jwt_is_found_only_where_the_app_believes_it(app: FakeApp, verify: bool) -> None:
    """Each user forges every other's identity from their own JWT; an app that reads the
    payload without checking the signature hands over the victim's data, and the finding says
    the credential was forged and how."""
    app.jwt, app.verify = True, verify
    target = _target(app)

    async def scenario() -> tuple[World, list[Observation], Counter[str]]:
        world, seen = await _seed_and_look(target)
        sessions = {a.id: await target.login(a) for a in world.actors.values()}

        async def session_of(who: str) -> Session:
            return sessions[who]

        observed: list[Observation] = []
        sent: Counter[str] = Counter()
        mine = [o for o in seen if o.read and o.endpoint == "GET /me"]
        for original in mine:
            for forger in world.actors.values():
                if forger.id != original.actor:
                    item = Impersonation(original, forger.id, original.actor)
                    await send_forged(
                        target, world, session_of, item, lambda o, _: observed.append(o), sent
                    )
        return world, observed, sent

    world, observed, sent = _run(scenario())
    assert set(sent) == {
        "forged original signature",
        "forged signature stripped",
        "forged alg none",
        "forged expired, original signature",
    }
    judge = Judge.from_world(world, listing=target.listing)
    findings = [f for o in observed for f in judge(o)]
    assert bool(findings) is not verify
    if not verify:
        assert all("forged credential" in f.step and "claim sub" in f.step for f in findings)
        assert all(f.owner and f.owner != f.observer for f in findings)
        assert {f.step.rsplit("victim's, ", 1)[-1].rstrip(")") for f in findings} == {
            "original signature",
            "signature stripped",
            "alg none",
            "expired, original signature",
        }


def test_a_delete_cannot_be_replayed_as_others_and_a_put_must_say_how() -> None:
    with pytest.raises(ValueError, match="as-others is for a write"):
        profile(reads=[{"delete": "/me", "replay": "as-others"}])
    with pytest.raises(ValueError, match="says how it is repeated"):
        profile(reads=[{**_RENAME, "replay": True}])


def test_a_missing_placeholder_is_one_line_naming_it(app: FakeApp) -> None:
    # `note` is a name some step has (an `each: note` read), not this one: only running it
    # can tell (a name no step has is refused when the profile loads: test_profile_model.py)
    reads = [{"get": "/me/{{note.nickname}}"}]
    target = _target(app, reads=reads)
    with pytest.raises(ConfigError, match=r"\{\{note.nickname\}\} has no value"):
        _run(_seed_and_look(target, users=1))


def test_discovered_reads_are_filled_from_observed_values(app: FakeApp, tmp_path: Path) -> None:
    document = {
        "openapi": "3.0.0",
        "paths": {
            "/me": {"get": {}},
            "/notes/{note_id}": {"get": {}},
            "/ghosts/{ghost_id}": {"get": {}},
            "/reset": {"get": {}},
        },
    }
    (tmp_path / "doc.json").write_text(json.dumps(document))
    changes = {
        "reads": [{"get": "/notes", "page": {"next": "link-header"}}],
        "unsafe": ["GET /reset"],
        "discover": {"openapi": "doc.json"},
    }
    target = ProfileTarget(
        profile(**changes), BASE, transport=app.transport(), profile_dir=str(tmp_path)
    )
    _run(target.check())
    _, seen = _run(_seed_and_look(target, users=1))
    routes = {o.endpoint for o in seen}
    assert {"GET /me", "GET /notes/{note_id}"} <= routes
    assert "GET /reset" not in routes and "GET /reset" not in app.requests
    assert target.unfilled_routes() == ["GET /ghosts/{ghost_id}"]
    assert all(o.read for o in seen if o.endpoint == "GET /notes/{note_id}")


def test_steps_name_the_acting_user_by_its_role(app: FakeApp) -> None:
    """A role `member` whose steps say {{member.*}} (sign-up, login) is driven like one that
    says {{user.*}}; `user` stays the acting user's alias in the same profile."""
    document = json.loads(json.dumps(PROFILE).replace("{{user.", "{{member."))
    document["roles"] = {"member": document["roles"]["user"]}
    document["auth"]["login"][0]["json"]["password"] = "{{user.password}}"
    target = ProfileTarget(TargetProfile.model_validate(document), BASE, transport=app.transport())
    world, seen = _run(_seed_and_look(target))
    assert {a.role for a in world.actors.values()} == {"member"}
    assert sorted(app.users) == sorted(str(a.vars["username"]) for a in world.actors.values())
    assert app.logins >= 2 and {o.status for o in _as_profiled(seen)} == {200}


def _as_profiled(seen: list[Observation]) -> list[Observation]:
    """The reads as the profile wrote them: their other request shapes (a trailing slash the
    fake app does not route, say) may be refused."""
    return [o for o in seen if "(variant: " not in o.endpoint]
