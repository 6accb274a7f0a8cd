"""The profile's load section resolved: reads, journeys, who drives which resources."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ConfigError
from harness.profile.model import TargetProfile
from load.contract import DiscoveredRead, LoadSettings
from load.workload import Workload, resolve
from tests.load.worlds import clinic_profile, memory_world, of_role, vampi_profile

DEBUG = DiscoveredRead("GET /users/v1/_debug", "/users/v1/_debug")
ME = DiscoveredRead("GET /me", "/me")


def _with_load(profile: TargetProfile, load: dict[str, Any]) -> TargetProfile:
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return TargetProfile.model_validate({**document, "load": load})


def test_clinic_reads_and_journey_resolve() -> None:
    reads, [journey] = resolve(clinic_profile())
    by_label = {r.label: r for r in reads}
    assert by_label["GET /api/me/recordings"].route == "GET /api/me/recordings"
    assert by_label["recording media"].each == "recording"
    assert by_label["recording media"].route == "GET /api/recordings/{recording_id}/media"
    assert by_label["GET /api/me/recordings"].applies_to("patient")
    assert not by_label["GET /api/me/recordings"].applies_to("clinician")
    assert (journey.start, journey.waves, journey.finish) == (
        "join",
        ("switch_to_video", "switch_to_audio"),
        ("end",),
    )
    assert journey.kind == "appointment"


def test_vampi_reads_take_discovered_routes_and_any_owner() -> None:
    reads, journeys = resolve(vampi_profile(), [ME, DEBUG])
    assert journeys == []
    assert [(r.route, r.pick) for r in reads] == [
        ("GET /me", "own"),
        ("GET /books/v1/{book_title}", "own"),
        ("GET /books/v1/{book_title}", "any"),
        ("GET /users/v1/_debug", "own"),
    ]
    assert reads[3].discovered == DEBUG
    assert reads[3].weight == 1  # load.discovered's: vampi.yaml does not name the route


def test_discovered_routes_join_the_load_only_at_load_discovered() -> None:
    """Each discovered route the reads do not name, once, at `load.discovered`'s weight;
    never an unsafe one; none without it."""
    profile = vampi_profile()
    assert profile.load is not None and profile.load.discovered == 1
    reset = DiscoveredRead("GET /createdb", "/createdb")  # unsafe: it wipes the app
    reads, _ = resolve(profile, [ME, DEBUG, DEBUG, reset])
    # GET /me is a read of the profile's own; the reset is unsafe
    assert [r.route for r in reads if r.discovered is not None] == ["GET /users/v1/_debug"]
    assert [r.route for r in reads].count("GET /me") == 1
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    heavier = _with_load(profile, {**document["load"], "discovered": 3})
    assert [r.weight for r in resolve(heavier, [ME, DEBUG])[0]][-1] == 3
    listed_only = _with_load(profile, {**document["load"], "discovered": 0})
    assert "GET /users/v1/_debug" not in {r.route for r in resolve(listed_only, [ME, DEBUG])[0]}


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ({"reads": [{"read": "GET /api/me/recording"}]}, "did you mean 'GET /api/me/recordings'"),
        ({"flows": [{"flow": "joinn"}]}, "did you mean 'join'"),
        ({"reads": [{"read": "GET /api/me", "pick": "any"}]}, "not an `each` read"),
        (
            {
                "reads": [{"read": "GET /api/me"}],
                "slo": {"GET /api/me/recordings": {"p95_ms": 800}},
            },
            "which no load read requests",
        ),
        ({}, "has no load: section"),
    ],
)
def test_mistakes_are_one_line_config_errors(load: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(_with_load(clinic_profile(), load))


def test_a_load_read_never_uses_the_support_api_nor_an_unsafe_route() -> None:
    profile = clinic_profile()
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["reads"].append({"name": "peek", "get": "/_support/users", "auth": "support"})
    with pytest.raises(ConfigError, match="support API"):
        resolve(_with_load(TargetProfile.model_validate(document), {"reads": [{"read": "peek"}]}))
    with pytest.raises(ConfigError, match="unsafe"):
        resolve(
            _with_load(vampi_profile(), {"reads": [{"read": "GET /createdb"}]}),
            [DiscoveredRead("GET /createdb", "/createdb")],
        )


def test_journeys_never_share_a_resource() -> None:
    world = memory_world(patients=4, appointments=3)
    workload = Workload(clinic_profile(), world)
    for users in (2, 4, 6, 9):
        driven = []
        for slot in range(users):
            assignment = workload.assignment(slot, users)
            assert assignment is not None
            assert all(r.owner == assignment.actor.id for r in assignment.resources)
            driven += [r.key for r in assignment.resources]
        assert len(driven) == len(set(driven)), users
        if users >= 4:  # every appointment is someone's once there is a user per patient
            assert len(driven) == len(world.resources)


def test_readers_are_every_user_with_a_read_and_scopes_name_the_relation() -> None:
    world = memory_world()
    workload = Workload(clinic_profile(), world)
    assert [a.id for a in workload.readers()] == sorted(world.actors)
    assert workload.reader(len(world.actors)).id == sorted(world.actors)[0]  # type: ignore[union-attr]
    patient = of_role(world, "patient")[1]
    appointment = world.resources_of(patient, "appointment")[0]
    scope = workload.scope(world.actors[patient], appointment)
    assert scope["appointment"]["consultation_id"] == appointment.vars["consultation_id"]
    assert scope["care"]["actor"] == world.ownership.visibility.related("care", patient)[0]
    assert [s.path for r in workload.list_reads("patient", "recording") for s in r.steps] == [
        "/api/me/recordings?per_page=10"
    ]
    assert [s.path for r in workload.list_reads("clinician", "recording") for s in r.steps] == [
        "/api/clinician/recordings?limit=25"
    ]


@pytest.mark.parametrize(
    ("flow_users", "workers", "block"), [(6, 1, 6), (6, 2, 3), (7, 2, 4), (2, 3, 1), (0, 2, 1)]
)
def test_each_process_gets_a_block_of_journey_slots(
    flow_users: int, workers: int, block: int
) -> None:
    """Locust may give one worker one journey user more than another; blocks of the rounded-up
    share keep every slot distinct, and a Workload never lets two slots share a resource."""
    settings = LoadSettings(flow_users=flow_users, workers=workers)
    assert (settings.flow_block, settings.flow_slots) == (block, block * workers)
    world = memory_world(patients=4, appointments=3)
    workload = Workload(clinic_profile(), world)
    driven = [
        r.key
        for slot in range(settings.flow_slots)
        if (a := workload.assignment(slot, settings.flow_slots)) is not None
        for r in a.resources
    ]
    assert len(driven) == len(set(driven))


def test_no_journey_takes_a_reserved_users_resources() -> None:
    """While the browser suite drives some patients' calls, the load runs beside it: its
    journeys must leave those calls alone, and it says so through LoadSettings to every worker."""
    world = memory_world(patients=4, appointments=3)
    patients = of_role(world, "patient")
    reserved = frozenset(patients[:2])
    settings = LoadSettings.from_json(
        LoadSettings(flow_users=4, reserved=tuple(reserved)).to_json()
    )
    assert set(settings.reserved) == reserved  # survives the trip to a worker
    workload = Workload(clinic_profile(), world, (), settings.reserved)
    free = [r for r in world.resources if r.owner not in reserved and r.kind == "appointment"]
    assert workload.flow_resources() == len(free)
    driven = [
        r
        for slot in range(4)
        if (a := workload.assignment(slot, 4)) is not None
        for r in a.resources
    ]
    assert driven and {r.owner for r in driven} <= set(patients[2:])
    # Reading as a reserved user is still fine: reads change nothing.
    assert reserved <= {a.id for a in workload.readers()}
    # Without the reservation the same slots do take those patients' calls.
    everyone = Workload(clinic_profile(), world)
    taken = {r.owner for s in range(4) if (a := everyone.assignment(s, 4)) for r in a.resources}
    assert taken & reserved
