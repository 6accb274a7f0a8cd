"""The browser suite's pure parts: page surfaces, the rendered-row owner check, the plan, the
cast, the profile's browser section, error mapping."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import ValidationError

from harness.canaries import Grant, OwnershipModel, Visibility
from harness.errors import InfrastructureError, TargetUnreachable, UsageError
from harness.models import Actor, Canary, Observation, SurfaceKind
from harness.profile import load_profile
from harness.profile.model import BrowserSpec
from harness.world import Resource, World
from scenarios.browser.errors import translate
from scenarios.browser.evidence import foreign_to, safe_name
from scenarios.browser.flow import BrowserRun, path_route
from scenarios.browser.listing import foreign_rows, own_rows
from scenarios.browser.plan import Cast, browser_flow, flow_phases, make_plan
from scenarios.switch import Scenario, all_scenarios

CLINIC = load_profile("clinic").profile
# The clinic's scenarios (its profile's `scenarios:`), and those the browser plays too.
SCENARIOS = all_scenarios(CLINIC.scenarios)
BROWSER_SCENARIOS = tuple(s.name for s in SCENARIOS if s.browser)


def _world(appointments: int = 2) -> World:
    actors = {
        "p0": Actor("p0", "patient", vars={"id": 10}),
        "p1": Actor("p1", "patient", vars={"id": 11}),
        "p2": Actor("p2", "patient", vars={"id": 12}),
        "c0": Actor("c0", "clinician", vars={"id": 20}),
        "c1": Actor("c1", "clinician", vars={"id": 21}),
    }
    canaries = (Canary("zqaaaaaaaaaa", "p0", "name"), Canary("zqbbbbbbbbbb", "p1", "name"))
    visibility = Visibility([Grant("c0", "p1", "care")])
    resources = tuple(
        Resource("appointment", p, i, {"consultation_id": 100 * n + i})
        for n, p in enumerate(("p0", "p1", "p2"))
        for i in range(appointments)
    )
    return World("http://t", 0, actors, OwnershipModel(canaries, visibility), resources)


def _page(actor: str) -> Observation:
    return Observation(
        actor,
        f"browser/x/{actor}/look",
        "GET",
        "/profile",
        "PAGE /profile",
        200,
        (),
        b"",
        0.0,
        surface_hint=SurfaceKind.DOM,
    )


def _spec(**changes: object) -> BrowserSpec:
    assert CLINIC.browser is not None
    return CLINIC.browser.model_copy(update=changes)


def test_pages_are_templated_like_routes() -> None:
    assert path_route("/consultations/12") == "PAGE /consultations/{id}"
    assert path_route("/profile") == "PAGE /profile"


def test_a_foreign_row_is_a_finding_naming_its_owner() -> None:
    findings = foreign_rows(_world(), _page("p0"), ["10", "11", "11", "999", ""], "id")
    assert [(f.owner, f.observer, str(f.surface)) for f in findings] == [
        ("p1", "p0", "dom:PAGE /profile")
    ]
    assert findings[0].is_exposure and findings[0].kind == "foreign-row"


def test_own_and_related_rows_are_not_findings() -> None:
    assert foreign_rows(_world(), _page("p0"), ["10"], "id") == []
    assert foreign_rows(_world(), _page("c0"), ["11"], "id") == []
    assert [f.owner for f in foreign_rows(_world(), _page("c0"), ["10"], "id")] == ["p0"]
    assert own_rows(_world(), "p0", ["10", "11", "10"], "id") == 2


def test_highlight_targets_only_what_the_observer_may_not_see() -> None:
    canaries, owners = foreign_to(_world(), "p0", "id")
    assert canaries == ["zqbbbbbbbbbb"] and owners == ["11", "12", "20", "21"]
    canaries, owners = foreign_to(_world(), "c0", "id")
    assert canaries == ["zqaaaaaaaaaa"] and owners == ["10", "12", "21"]
    assert safe_name("browser/p0 x", "look") == "browser_p0_x-look"


def test_clinic_profile_has_a_control_for_every_flow_the_bounded_scenarios_use() -> None:
    spec = _spec()
    assert spec.unknown_names(CLINIC.roles, CLINIC.flows) == []
    chosen = [s for s in SCENARIOS if s.name in BROWSER_SCENARIOS]
    assert [s.name for s in chosen] == list(BROWSER_SCENARIOS)
    used = {browser_flow(spec, p) for s in chosen for p in flow_phases(s.phases)}
    assert used == {"join", "leave", "switch_to_video", "switch_to_audio", "end"}
    assert used <= set(spec.flows)


def test_rejoin_uses_the_join_control_unless_the_profile_has_one() -> None:
    assert browser_flow(_spec(), "rejoin") == "join"
    flows = {**_spec().flows, "rejoin": _spec().flows["join"]}
    assert browser_flow(_spec(flows=flows), "rejoin") == "rejoin"


def test_the_plan_runs_the_bounded_set_on_fresh_slots_and_names_the_rest() -> None:
    extra = Scenario("own", "the profile's own", ("join", "end", "look"))
    plan = make_plan(_spec(), [*SCENARIOS, extra], fresh=6)
    ran = [(e.scenario.name, e.slot) for e in plan if not e.skipped]
    assert ran == [
        ("switch-mid-call", 0),
        ("repeated-switches", 1),
        ("switch-back-to-audio", 2),
        ("rejoin-after-switch", 3),
        ("look-around", 4),  # no flow: it takes no call
        ("own", 4),
    ]
    skipped = {e.scenario.name: e.skipped for e in plan if e.skipped}
    bounded = {"switch-near-end", "concurrent-switch-storm"}
    # the relation scenarios need flows (withdraw consent, transfer ...) with no page control
    relations = {"consent-withdrawn", "recording-deleted", "patient-transferred", "care-ended"}
    assert set(skipped) == bounded | relations
    assert all(
        skipped[name].startswith("not run: the browser suite is bounded to") for name in bounded
    )
    assert all(skipped[name].startswith(("not applicable", "not run")) for name in relations)


def test_a_flow_without_a_control_makes_its_scenarios_not_applicable() -> None:
    flows = {k: v for k, v in _spec().flows.items() if k != "switch_to_audio"}
    plan = make_plan(_spec(flows=flows), SCENARIOS, fresh=6)
    skipped = {e.scenario.name: e.skipped for e in plan if e.skipped}
    reason = "not applicable: the profile's browser section has no control for flow switch_to_audio"
    for name in ("repeated-switches", "switch-back-to-audio", "concurrent-switch-storm"):
        assert skipped[name] == reason
    ran = [e.scenario.name for e in plan if not e.skipped]
    assert ran == ["switch-mid-call", "rejoin-after-switch", "look-around"]


def test_scenarios_past_the_seeded_resources_are_not_run() -> None:
    plan = make_plan(_spec(), SCENARIOS, fresh=2)
    ran = [e.scenario.name for e in plan if not e.skipped]
    assert ran == ["switch-mid-call", "repeated-switches", "look-around"]
    skipped = {e.scenario.name: e.skipped for e in plan if e.skipped}
    assert skipped["rejoin-after-switch"].startswith("not run: all 2 resource(s)")


def test_the_cast_is_the_first_owners_and_their_related_readers() -> None:
    cast = Cast.pick(_world(appointments=3), CLINIC, _spec(), limit=2)
    assert [a.id for a in cast.owners] == ["p0", "p1"]
    assert [a.id for a in cast.observers] == ["c0"]  # c1 cares for nobody in the cast
    assert cast.fresh == 3
    with pytest.raises(InfrastructureError, match="at least two users who own data"):
        Cast.pick(_world(), CLINIC, _spec(), limit=1)


def test_the_browser_section_refuses_what_cannot_work() -> None:
    with pytest.raises(ValidationError, match="row_owner_attr needs row"):
        BrowserSpec.model_validate({"login_fields": {"#u": "x"}, "row_owner_attr": "data-id"})
    with pytest.raises(ValidationError, match="must start with '/'"):
        BrowserSpec.model_validate({"login_fields": {"#u": "x"}, "pages": {"patient": ["p"]}})
    with pytest.raises(ValidationError, match="must start with '/'"):
        BrowserSpec.model_validate(
            {"login_fields": {"#u": "x"}, "flows": {"join": {"page": "x", "click": "#j"}}}
        )
    with pytest.raises(ValidationError, match="login_fields"):
        BrowserSpec.model_validate({"login_fields": {}})
    spec = _spec(pages={"admin": ["/a"]}, flows={"dance": _spec().flows["join"]})
    assert spec.unknown_names(CLINIC.roles, CLINIC.flows) == [
        "browser.pages names role 'admin', which is not under roles",
        "browser.flows names flow 'dance', which is not under flows",
    ]


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (
            PlaywrightError("net::ERR_CONNECTION_REFUSED at http://t/profile"),
            TargetUnreachable,
            "stopped answering",
        ),
        (PlaywrightTimeout("Timeout 20000ms exceeded."), InfrastructureError, "timed out"),
        (PlaywrightError("locator.click: element is detached"), InfrastructureError, "failed"),
        (RuntimeError("boom"), InfrastructureError, "failed"),
    ],
)
def test_browser_failures_become_infrastructure_errors(
    error: BaseException, expected: type, text: str
) -> None:
    translated = translate(error, "http://t", "browser/p0/join")
    assert type(translated) is expected
    assert text in translated.one_line() and "browser/p0/join" in translated.one_line()


def test_harness_errors_pass_through_unchanged() -> None:
    error = UsageError("x")
    assert translate(error, "http://t", "s") is error


def test_the_browser_renders_with_the_relations_and_the_support_token() -> None:
    """The browser's placeholder values are the shared client's: `{{care.*}}` names the
    clinician of the patient, and `{{support.token}}` is the run's (they were missing)."""
    ctx = SimpleNamespace(
        adapter=SimpleNamespace(profile=CLINIC), world=_world(), support_token="s"
    )
    run: Any = SimpleNamespace(ctx=ctx)
    world = ctx.world
    scope = BrowserRun._scope(run, world.actors["p1"], world.resources_of("p1")[0])
    assert scope["care"] == {"id": 20, "actor": "c0"}
    assert scope["support"] == {"token": "s"}
    assert scope["appointment"] == {"consultation_id": 100}
    assert scope["owner"]["actor"] == "p1"
