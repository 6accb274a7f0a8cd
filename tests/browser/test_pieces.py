"""The browser suite's pure parts: page surfaces, the rendered-list owner check, error mapping."""

from __future__ import annotations

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.canaries import OwnershipModel
from harness.errors import InfrastructureError, TargetUnreachable, UsageError
from harness.models import Actor, Canary, CanaryKind, Observation, Role, SurfaceKind
from harness.world import World
from scenarios.browser.errors import translate
from scenarios.browser.evidence import foreign_to, safe_name
from scenarios.browser.flow import _endpoint
from scenarios.browser.listing import foreign_recordings


def _world() -> World:
    actors = {
        "p0": Actor("p0", Role.PATIENT),
        "p1": Actor("p1", Role.PATIENT),
        "c0": Actor("c0", Role.CLINICIAN, assigned=frozenset({"p1"})),
    }
    canaries = [
        Canary("zqaaaaaaaaaa", "p0", CanaryKind.NAME),
        Canary("zqbbbbbbbbbb", "p1", CanaryKind.NAME),
    ]
    ownership = OwnershipModel.build(canaries, {"p1": ["c0"]})
    return World("http://t", 0, actors, ownership, (), server_ids={"p0": 10, "p1": 11})


def _page(actor: str) -> Observation:
    return Observation(
        actor,
        f"browser/{actor}/profile",
        "GET",
        "/profile",
        "PAGE /profile",
        200,
        (),
        b"",
        0.0,
        surface_hint=SurfaceKind.DOM,
    )


def test_pages_are_templated_like_routes() -> None:
    assert _endpoint("/consultations/12") == "PAGE /consultations/{id}"
    assert _endpoint("/profile") == "PAGE /profile"


def test_a_foreign_recording_row_is_a_finding_naming_its_owner() -> None:
    findings = foreign_recordings(_world(), _page("p0"), ["10", "11", "11", "999", ""])
    assert [(f.owner, f.observer, str(f.surface)) for f in findings] == [
        ("p1", "p0", "dom:PAGE /profile")
    ]
    assert findings[0].is_exposure


def test_own_and_assigned_recordings_are_not_findings() -> None:
    assert foreign_recordings(_world(), _page("p0"), ["10"]) == []
    assert foreign_recordings(_world(), _page("c0"), ["11"]) == []
    assert [f.owner for f in foreign_recordings(_world(), _page("c0"), ["10"])] == ["p0"]


def test_highlight_targets_only_what_the_observer_may_not_see() -> None:
    assert foreign_to(_world(), "p0") == (["zqbbbbbbbbbb"], ["11"])
    assert foreign_to(_world(), "c0") == (["zqaaaaaaaaaa"], ["10"])
    assert safe_name("browser/p0 x", "profile") == "browser_p0_x-profile"


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
