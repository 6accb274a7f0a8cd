"""The oracle registry, the Judge and the built-in oracles, each shown firing and silent."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest

from harness.canaries import make_canary
from harness.errors import ConfigError, UsageError
from harness.models import (
    ANONYMOUS_ID,
    Canary,
    CanaryKind,
    Finding,
    Observation,
    Severity,
    Surface,
    SurfaceKind,
)
from harness.oracles import (
    ENTRY_POINT_GROUP,
    Judge,
    Listing,
    OracleContext,
    load_entry_point_oracles,
    oracle,
    registered_oracles,
    registry,
)
from harness.world import World
from tests.worlds import make_world as build_world

RNG = random.Random(42)
PATIENTS = ("p1", "p2", "p3")
CANARY = {
    (p, kind): Canary(make_canary(RNG), p, kind, label)
    for p in PATIENTS
    for kind, label in [
        (CanaryKind.NAME, "display name"),
        (CanaryKind.REASON, "appointment reason"),
        (CanaryKind.MEDIA, "recording media"),
    ]
}


def make_world() -> World:
    return build_world(
        PATIENTS,
        {"c1": ["p1"], "c2": ["p2", "p3"]},
        CANARY.values(),
        appointments={"p1": 2, "p2": 1, "p3": 1},
        server_ids={"p1": 101, "p2": 102, "p3": 103},
    )


WORLD = make_world()


def obs(actor: str = "p2", body: bytes = b"", **kw: object) -> Observation:
    base = Observation(
        actor=actor,
        step="switch/p3/switch-to-video",
        method="GET",
        url="/api/me/recordings",
        endpoint="GET /api/me/recordings",
        status=200,
        headers=(("content-type", "application/json"),),
        body=body,
        time=1000.0,
        content_type="application/json",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def judge(*names: str, listing: object = None) -> Judge:
    ctx = OracleContext.for_world(WORLD, listing)  # type: ignore[arg-type]
    return Judge(ctx, names or None)


def leak(owner: str = "p3", kind: CanaryKind = CanaryKind.REASON) -> str:
    return CANARY[(owner, kind)].value


# -- canary-leak, every surface --------------------------------------------------------------

SURFACES = [
    (
        "json",
        {},
        lambda v: json.dumps({"title": f"video recording: {v}"}).encode(),
        SurfaceKind.JSON,
    ),
    (
        "html",
        {"content_type": "text/html; charset=utf-8", "headers": (("content-type", "text/html"),)},
        lambda v: f"<li class='recording'>{v}</li>".encode(),
        SurfaceKind.HTML,
    ),
    (
        "error",
        {"status": 404},
        lambda v: json.dumps({"detail": f"no {v}"}).encode(),
        SurfaceKind.ERROR,
    ),
    ("server-error", {"status": 500}, lambda v: f"Traceback: {v}".encode(), SurfaceKind.ERROR),
    (
        "media",
        {"content_type": "application/octet-stream", "headers": ()},
        lambda v: b"\x00\x01HDR" + v.encode() + bytes(range(256)),
        SurfaceKind.MEDIA,
    ),
    (
        "dom",
        {"surface_hint": SurfaceKind.DOM, "content_type": ""},
        lambda v: v.encode(),
        SurfaceKind.DOM,
    ),
    (
        "html-escaped",
        {"content_type": "text/html"},
        lambda v: "".join(f"&#{ord(c)};" for c in v).encode(),
        SurfaceKind.HTML,
    ),
    (
        "json-escaped",
        {},
        lambda v: "".join(f"\\u{ord(c):04x}" for c in v).encode(),
        SurfaceKind.JSON,
    ),
    (
        "upper-cased",
        {"content_type": "text/html"},
        lambda v: f"<h1>{v.upper()}</h1>".encode(),
        SurfaceKind.HTML,
    ),
]


@pytest.mark.parametrize(
    ("name", "kw", "render", "surface"), SURFACES, ids=[s[0] for s in SURFACES]
)
def test_canary_leak_on_every_body_surface(name, kw, render, surface) -> None:
    findings = judge("canary-leak")(obs("p2", render(leak()), **kw))
    assert [(f.kind, f.owner, f.observer, f.surface.kind) for f in findings] == [
        ("canary-leak", "p3", "p2", surface)
    ]
    finding = findings[0]
    assert finding.severity is Severity.CRITICAL and finding.canary_kind is CanaryKind.REASON
    assert finding.step == "switch/p3/switch-to-video" and finding.time == 1000.0
    assert leak() not in finding.evidence + finding.message
    assert "canary of p3 (appointment reason)" in finding.evidence


def test_canary_in_a_header_and_in_a_redirect_location() -> None:
    headers = (
        ("set-cookie", f"last_patient={leak()}; HttpOnly"),
        (
            "location",
            f"/profile?name={''.join(f'%{ord(c):02X}' for c in leak('p1', CanaryKind.NAME))}",
        ),
    )
    findings = judge("canary-leak")(obs("p2", b"", status=303, headers=headers))
    got = {(f.surface.kind, f.owner) for f in findings}
    assert got == {(SurfaceKind.HEADER, "p3"), (SurfaceKind.REDIRECT, "p1")}
    header = next(f for f in findings if f.surface.kind is SurfaceKind.HEADER)
    assert "header set-cookie" in header.evidence


def test_surface_where_never_carries_the_media_token() -> None:
    o = obs("p2", leak().encode(), url="/api/recordings/3/media?token=SECRET", endpoint="")
    (finding,) = judge("canary-leak")(o)
    assert "SECRET" not in str(finding.surface) + finding.evidence + finding.message


@pytest.mark.parametrize("observer", ["p3", "c2"])
def test_owner_and_assigned_clinician_are_never_flagged(observer: str) -> None:
    body = json.dumps(
        {"items": [leak(), leak("p3", CanaryKind.NAME), leak("p3", CanaryKind.MEDIA)]}
    )
    assert judge()(obs(observer, body.encode())) == []


def test_unassigned_clinician_and_anonymous_are_flagged() -> None:
    body = leak().encode()
    assert [f.observer for f in judge("canary-leak")(obs("c1", body))] == ["c1"]
    assert [f.observer for f in judge("canary-leak")(obs(ANONYMOUS_ID, body, status=401))] == [
        ANONYMOUS_ID
    ]


def test_one_finding_per_canary_and_surface() -> None:
    body = (leak() + " " + leak() + " " + leak().upper()).encode()
    assert len(judge("canary-leak")(obs("p2", body))) == 1


def test_clean_response_is_silent() -> None:
    own = json.dumps({"items": [leak("p2")], "detail": "O&#39;Brien 50%"}).encode()
    assert judge()(obs("p2", own)) == []


def dense_listing(*owners: str) -> bytes:
    """A listing as the target renders it: every item repeats its owner's data."""
    rows = [
        {"title": f"Dr {CANARY[(o, k)].value.capitalize()}", "n": CANARY[(o, k)].value.upper()}
        for o in owners
        for k in (CanaryKind.NAME, CanaryKind.REASON)
    ]
    return json.dumps({"items": rows * 300}).encode()


@pytest.mark.parametrize(("observer", "owners"), [("p2", ("p2",)), ("c2", ("p2", "p3"))])
def test_one_foreign_canary_in_a_listing_full_of_visible_ones(observer, owners) -> None:
    # The observer's own canaries (a patient) or their assigned patients' (a clinician) fill
    # the body; the single foreign one is still found, with its exact offset as evidence.
    listing = dense_listing(*owners)
    assert judge("canary-leak")(obs(observer, listing)) == []
    at = len(listing) // 2
    body = listing[:at] + leak("p1", CanaryKind.NAME).encode() + listing[at:]
    findings = judge("canary-leak")(obs(observer, body))
    assert [(f.owner, f.observer, f.canary_kind) for f in findings] == [
        ("p1", observer, CanaryKind.NAME)
    ]
    assert f"at byte {at} of" in findings[0].evidence


# -- Range responses ----------------------------------------------------------------------


def media_with(canary: str, at: int, size: int = 2000) -> bytes:
    data = bytearray(random.Random(9).randbytes(size))
    data[at : at + len(canary)] = canary.encode()
    return bytes(data)


def range_obs(actor: str, media: bytes, first: int, last: int, token: str) -> Observation:
    return obs(
        actor,
        media[first : last + 1],
        status=206,
        url=f"/api/recordings/3/media?token={token}",
        endpoint="GET /api/recordings/{id}/media",
        content_type="application/octet-stream",
        headers=(("content-range", f"bytes {first}-{last}/{len(media)}"),),
        byte_range=(first, last),
    )


def test_canary_split_across_range_boundary_is_found_once() -> None:
    media = media_with(leak("p3", CanaryKind.MEDIA), 1020)
    j = judge("canary-leak")
    first = j(range_obs("p2", media, 0, 1023, "t1"))
    second = j(range_obs("p2", media, 1024, 1999, "t2"))
    assert first == []
    assert [(f.owner, f.surface.kind, f.canary_kind) for f in second] == [
        ("p3", SurfaceKind.MEDIA, CanaryKind.MEDIA)
    ]
    assert "byte 1020 of GET /api/recordings/{id}/media" in second[0].evidence


def test_split_media_fetched_by_its_owner_is_silent() -> None:
    media = media_with(leak("p3", CanaryKind.MEDIA), 1020)
    j = judge("canary-leak")
    assert j(range_obs("p3", media, 0, 1023, "t1")) == []
    assert j(range_obs("p3", media, 1024, 1999, "t2")) == []


# -- listing oracles ---------------------------------------------------------------------


def listing_of(kind: str, *owners: str | None, exact: bool = False):  # type: ignore[no-untyped-def]
    return lambda o: Listing(kind, owners, exact=exact)


def test_list_ownership_fires_on_foreign_and_unknown_owners() -> None:
    j = judge("list-ownership", listing=listing_of("recording", "p2", "p3", "p3", None))
    findings = j(obs("p2"))
    assert {(f.kind, f.owner, f.severity) for f in findings} == {
        ("foreign-recording", "p3", Severity.CRITICAL),
        ("foreign-recording", None, Severity.CRITICAL),
    }
    assert dict(next(f for f in findings if f.owner == "p3").extra)["items"] == "2"


def test_list_ownership_silent_for_own_and_assigned() -> None:
    assert judge("list-ownership", listing=listing_of("recording", "p2", "p2"))(obs("p2")) == []
    assert judge("list-ownership", listing=listing_of("recording", "p2", "p3"))(obs("c2")) == []
    assert judge("list-ownership")(obs("p2")) == []  # no listing parser: nothing to say


def test_list_ownership_follows_relations_over_time() -> None:
    """A clinician whose care relation ended sees a foreign item from then on, not before."""
    world = make_world()
    world.ownership.visibility.revoke("c2", "p3", "", at=1000.0)
    ctx = OracleContext.for_world(world, listing_of("recording", "p3"))
    j = Judge(ctx, ["list-ownership"])
    during = obs("c2", elapsed=5.0, time=1002.0)  # sent before the change completed
    after = obs("c2", elapsed=1.0, time=1010.0)
    assert j(during) == []
    assert [(f.kind, f.owner) for f in j(after)] == [("foreign-recording", "p3")]


def test_list_count_more_is_high_fewer_is_medium() -> None:
    more = judge("list-count", listing=listing_of("appointment", "p1", "p1", "p1", exact=True))(
        obs("p1")
    )
    fewer = judge("list-count", listing=listing_of("appointment", "p1", exact=True))(obs("p1"))
    assert [(f.kind, f.severity) for f in more] == [("appointment-count", Severity.HIGH)]
    assert [(f.kind, f.severity) for f in fewer] == [("appointment-count", Severity.MEDIUM)]
    assert dict(more[0].extra) == {"seen": "3", "expected": "2"}


def test_list_count_and_ownership_both_fire_on_a_foreign_item() -> None:
    listing = listing_of("appointment", "p2", "p3", exact=True)
    findings = judge("list-count", "list-ownership", listing=listing)(obs("p2"))
    assert {(f.kind, f.owner) for f in findings} == {
        ("appointment-count", None),
        ("foreign-appointment", "p3"),
    }


def test_list_count_silent_when_exact_or_not_an_exact_list() -> None:
    assert (
        judge("list-count", listing=listing_of("appointment", "p1", "p1", exact=True))(obs("p1"))
        == []
    )
    assert (
        judge("list-count", listing=listing_of("appointment", "p2", "p3", exact=True))(obs("c2"))
        == []
    )
    assert judge("list-count", listing=listing_of("recording", "p9"))(obs("p1")) == []


def test_server_error_fires_on_5xx_only() -> None:
    (finding,) = judge("server-error")(obs("p2", b"oops", status=503))
    assert (finding.kind, finding.severity, finding.surface.kind) == (
        "server-error",
        Severity.HIGH,
        SurfaceKind.ERROR,
    )
    assert judge("server-error")(obs("p2", b"no", status=404)) == []
    assert judge("server-error")(obs("p2", b"{}", status=200)) == []


# -- registry, entry points, Judge ---------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"canary-leak", "list-ownership", "list-count", "server-error"} <= set(
        registered_oracles()
    )


@pytest.fixture
def throwaway() -> Iterator[str]:
    yield "test-always"
    registry.unregister("test-always")


def always(o: Observation, ctx: OracleContext) -> Iterator[Finding]:
    yield Finding(
        "test-always",
        "custom",
        Severity.LOW,
        "m",
        o.actor,
        Surface(SurfaceKind.OTHER, o.url),
        o.step,
        o.time,
    )


def test_decorator_registers_and_judge_runs_it(throwaway: str) -> None:
    oracle(throwaway)(always)
    assert registered_oracles()[throwaway] is always
    assert [f.kind for f in judge(throwaway)(obs())] == ["custom"]
    assert "custom" in [f.kind for f in judge()(obs())]


def test_duplicate_name_with_a_different_function_is_refused(throwaway: str) -> None:
    oracle(throwaway)(always)
    with pytest.raises(UsageError, match="two oracles"):
        oracle(throwaway)(lambda o, c: [])


def test_unknown_oracle_name_suggests_the_close_one() -> None:
    with pytest.raises(UsageError) as info:
        judge("canary-leek")
    assert "did you mean 'canary-leak'" in info.value.one_line()


def fake_entry_points(*entries: SimpleNamespace):  # type: ignore[no-untyped-def]
    def entry_points(group: str) -> list[SimpleNamespace]:
        assert group == ENTRY_POINT_GROUP
        return list(entries)

    return entry_points


def test_entry_point_oracles_load(monkeypatch: pytest.MonkeyPatch, throwaway: str) -> None:
    entry = SimpleNamespace(name=throwaway, value="pkg:always", load=lambda: always)
    monkeypatch.setattr(registry, "entry_points", fake_entry_points(entry))
    assert load_entry_point_oracles() == [throwaway]
    judge_ = Judge.from_world(WORLD)
    assert [f.kind for f in judge_(obs())] == ["custom"]


def test_broken_entry_point_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise ImportError("no module named pkg")

    entry = SimpleNamespace(name="broken", value="pkg:check", load=boom)
    monkeypatch.setattr(registry, "entry_points", fake_entry_points(entry))
    with pytest.raises(ConfigError, match="broken"):
        load_entry_point_oracles()
    assert "broken" not in registered_oracles()


def test_judge_from_world_without_plugins_uses_the_world_canaries() -> None:
    j = Judge.from_world(WORLD, plugins=False)
    assert len(j.ctx.matcher) == len(CANARY)
    assert [f.owner for f in j(obs("p1", leak("p2", CanaryKind.NAME).encode()))] == ["p2"]


def test_a_leak_names_the_resource_its_canary_belongs_to() -> None:
    """Triage keys root causes on the leaked object, so the finding carries the resource."""
    reason = Canary(
        make_canary(RNG), "p3", CanaryKind.REASON, "appointment reason", "appointment:p3:0"
    )
    name = Canary(make_canary(RNG), "p3", CanaryKind.NAME, "patient display name")
    world = build_world(PATIENTS, {"c1": ["p1"]}, [reason, name], server_ids={"p3": 103})
    findings = Judge(OracleContext.for_world(world, None), ["canary-leak"])(
        obs("p2", f"{reason.value} {name.value}".encode())
    )
    extras = sorted(dict(f.extra).get("resource", "") for f in findings)
    assert extras == ["", "appointment:p3:0"]  # a user field belongs to no resource
