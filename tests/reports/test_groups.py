"""Triage over synthetic findings: root causes keyed on the leaked object, its owners' role and
the first step any surface showed it; surfaces, routes and suites are evidence beneath."""

from __future__ import annotations

from harness.models import CanaryKind, Finding, Severity, Surface, SurfaceKind
from reports.groups import group_findings, leaked_object
from reports.result import FindingRecord
from tests.reports.streams import T0, finding

ROLES = {"p1": "patient", "p2": "patient", "p3": "patient", "c1": "clinician"}
SURFACES = [
    (SurfaceKind.JSON, "GET /api/me/recordings"),
    (SurfaceKind.HTML, "GET /profile"),
    (SurfaceKind.CSV, "GET /api/me/recordings/export.csv"),
    (SurfaceKind.MEDIA, "GET /api/recordings/{recording_id}/media"),
    (SurfaceKind.MAIL, "MAIL notification"),
    (SurfaceKind.JSON, "GET /api/search (page 2)"),
]


def record(f: Finding, seen: float | None = None, occurrences: int = 1) -> FindingRecord:
    at = f.time if seen is None else seen
    return FindingRecord(f, occurrences, at, at + 5)


def reason(
    owner: str,
    observer: str,
    t: float,
    *,
    resource: str = "",
    suite: str = "switch",
    step: str = "",
    surface: Surface = Surface(SurfaceKind.JSON, "GET /api/me/recordings"),
    data: CanaryKind = CanaryKind.REASON,
    check: str = "canary-leak",
    kind: str = "canary-leak",
    extra: tuple[tuple[str, str], ...] | None = None,
) -> Finding:
    """`owner`'s appointment reason (by default) reaching `observer`."""
    if extra is None:
        extra = (
            ("label", "appointment reason"),
            ("resource", resource or f"appointment:{owner}:0"),
        )
    return Finding(
        check=check,
        kind=kind,
        severity=Severity.CRITICAL,
        message=f"{observer} received {owner}'s data",
        observer=observer,
        surface=surface,
        step=step or f"switch/switch-mid-call/{observer}/look",
        time=T0 + t,
        owner=owner,
        canary_kind=data,
        suite=suite,
        extra=extra,
    )


def misfiled_recordings() -> list[FindingRecord]:
    """One bug: each patient's recording is filed under the next patient, so its appointment
    reason shows on every surface the next patient reads, and on a later replay in access."""
    records = []
    t = 0.0
    for owner, observer in [("p1", "p2"), ("p2", "p3"), ("p3", "p1")]:
        for kind, where in SURFACES:
            t += 1
            records.append(record(reason(owner, observer, t, surface=Surface(kind, where))))
        t += 1
        late = reason(owner, "c1", t, suite="access", step=f"access/c1->{owner}")
        records.append(record(late, occurrences=7))
    # the owner's name also leaks in the media, first shown at the same step
    name = reason(
        "p1",
        "p2",
        0.5,
        data=CanaryKind.NAME,
        extra=(("label", "patient display name"),),
        surface=Surface(SurfaceKind.WS, "WS /ws/events"),
    )
    return [*records, record(name)]


def test_one_bug_on_many_surfaces_routes_suites_and_owners_is_one_cause() -> None:
    records = [r for r in misfiled_recordings() if r.finding.canary_kind is CanaryKind.REASON]
    (cause,) = group_findings(records, roles=ROLES)
    assert (cause.object, cause.owner_role, cause.step) == (
        "appointment",
        "patient",
        "switch-mid-call/look",
    )
    assert cause.title == "patient's appointment (appointment reason) first shown at " + (
        "switch-mid-call/look"
    )
    assert cause.example == "appointment:p1:0"
    # evidence beneath: every surface and route (pages folded), both suites, every pair
    assert len(cause.surfaces) == len(SURFACES)
    assert "json:GET /api/search" in cause.surfaces
    assert "GET /api/search" in cause.routes
    assert cause.suites == ("access", "switch")
    assert cause.owners == ("p1", "p2", "p3")
    assert ("p1", "c1") in cause.exposures
    assert cause.count == len(records) and cause.occurrences == len(records) + 3 * 6


def test_counts_add_up_to_the_findings() -> None:
    records = misfiled_recordings()
    causes = group_findings(records, roles=ROLES)
    assert sum(c.count for c in causes) == len(records)
    assert sorted(r.key for c in causes for r in c.records) == sorted(r.key for r in records)


def test_one_bug_leaking_records_and_appointments_is_one_cause_naming_both() -> None:
    (cause,) = group_findings(misfiled_recordings(), roles=ROLES)
    assert cause.objects == ("record", "appointment")  # the display name showed first
    assert cause.what == (
        "patient's own record, appointment (appointment reason, patient display name)"
    )
    assert cause.step == "switch-mid-call/look" and cause.suite == "switch"


def idor() -> list[FindingRecord]:
    """Appointments nothing showed before, served to p2 by the access suite's replays."""
    return [
        record(
            reason(
                owner,
                "p2",
                100 + i,
                resource=f"appointment:{owner}:3",
                suite="access",
                step=f"access/p2->{owner}",
                surface=Surface(SurfaceKind.JSON, "GET /api/recordings/{recording_id}"),
            )
        )
        for i, owner in enumerate(["p1", "p3"])
    ]


def test_an_object_first_shown_by_a_replay_is_a_cause_of_its_own() -> None:
    """The same kind of object, but nothing showed these appointments before the access
    replay: another bug (an IDOR), not more evidence of the misfiled recordings, whose objects
    the access suite also showed again (they stay evidence of the first cause)."""
    causes = group_findings([*misfiled_recordings(), *idor()], roles=ROLES)
    assert sorted(c.step for c in causes) == ["access/replay", "switch-mid-call/look"]
    replayed = next(c for c in causes if c.step == "access/replay")
    assert replayed.count == 2 and replayed.owners == ("p1", "p3")
    assert replayed.example == "appointment:p1:3"
    misfiled = next(c for c in causes if c is not replayed)
    assert misfiled.suites == ("access", "switch")


def test_a_name_first_served_by_another_route_is_another_leak() -> None:
    """p1's display name reached p2 over the event socket (the misfiling); the access replay
    then fetches p1's recording metadata, which carries the name too: a name has no resource
    of its own, so the route serving it tells the two leaks apart."""
    metadata = reason(
        "p1",
        "p3",
        200,
        data=CanaryKind.NAME,
        extra=(("label", "patient display name"),),
        suite="access",
        step="access/p3->p1",
        surface=Surface(SurfaceKind.JSON, "GET /api/recordings/{recording_id}"),
    )
    causes = group_findings([*misfiled_recordings(), record(metadata)], roles=ROLES)
    assert sorted(c.step for c in causes) == ["access/replay", "switch-mid-call/look"]
    replayed = next(c for c in causes if c.step == "access/replay")
    assert replayed.example == "record:p1@GET /api/recordings/{recording_id}"


def test_the_first_sighting_of_the_object_sets_the_step_whatever_the_surface() -> None:
    """Seen first in an e-mail (step `switch/mail`), then on the list: one cause at the mail."""
    mail = reason(
        "p1", "p2", 1, step="switch/mail", surface=Surface(SurfaceKind.MAIL, "MAIL notification")
    )
    later = reason("p1", "p3", 2)
    (cause,) = group_findings([record(mail), record(later)], roles=ROLES)
    assert cause.step == "switch/mail" and cause.count == 2


def test_list_items_and_withdrawn_entities_are_objects_too() -> None:
    foreign = reason("p1", "p2", 1, check="list-ownership", kind="foreign-recording", extra=())
    denied = reason(
        "p3",
        "c1",
        2,
        check="entity-denied",
        kind="denied-recording-listed",
        extra=(("entity", "recording:17"),),
    )
    assert leaked_object(foreign).kind == "recording"
    assert leaked_object(denied).ident == "recording:17"
    causes = group_findings([record(foreign), record(denied)], roles=ROLES)
    assert len(causes) == 1 and causes[0].object == "recording"


def test_findings_without_an_owner_are_keyed_on_kind_and_route() -> None:
    def error(where: str, t: float) -> FindingRecord:
        base = finding(owner=None, kind=None, where=where, time=T0 + t, suite="switch")
        return record(
            Finding(
                check="server-error",
                kind="server-error",
                severity=Severity.HIGH,
                message=base.message,
                observer=base.observer,
                surface=base.surface,
                step=base.step,
                time=base.time,
                suite="switch",
            )
        )

    causes = group_findings([error("GET /a", 1), error("GET /a (page 2)", 2), error("GET /b", 3)])
    assert sorted(c.object for c in causes) == ["server-error on GET /a", "server-error on GET /b"]
    assert all(c.owner_role == "" and "observer(s)" in c.evidence for c in causes)


def test_accepted_causes_sort_last_and_the_most_severe_first() -> None:
    replays = idor()
    causes = group_findings(
        [*replays, *misfiled_recordings()], accepted=[r.key for r in replays], roles=ROLES
    )
    assert [(c.step, c.accepted) for c in causes] == [
        ("switch-mid-call/look", False),
        ("access/replay", True),
    ]


def test_a_list_too_long_joins_the_cause_of_the_foreign_item_it_holds() -> None:
    """list-count raises an ownerless finding on the response whose foreign item
    list-ownership blames: one bug, one cause; a count finding alone is its own."""
    foreign = reason("p1", "p2", 1, check="list-ownership", kind="foreign-recording", extra=())
    count = Finding(
        check="list-count",
        kind="recording-count",
        severity=Severity.HIGH,
        message="p2 sees 3 recording(s), expected 2",
        observer="p2",
        surface=foreign.surface,
        step=foreign.step,
        time=foreign.time,
        suite="switch",
    )
    alone = Finding(
        check="list-count",
        kind="recording-count",
        severity=Severity.MEDIUM,
        message="p3 sees 1 recording(s), expected 2",
        observer="p3",
        surface=foreign.surface,
        step="switch/switch-mid-call/p3/look",
        time=foreign.time + 3,
        suite="switch",
    )
    causes = group_findings([record(foreign), record(count), record(alone)], roles=ROLES)
    assert sorted(c.count for c in causes) == [1, 2]
    joined = next(c for c in causes if c.count == 2)
    assert joined.objects == ("recording",)
    lone = next(c for c in causes if c.count == 1)
    assert lone.owner_role == "" and lone.object == "recording-count on GET /api/me/recordings"


def _rerun(suite: str, owner: str, index: int, t: float) -> FindingRecord:
    """An appointment of the misfiled kind that only a re-running suite happened to show."""
    return record(
        reason(
            owner,
            "p2",
            t,
            resource=f"appointment:{owner}:{index}",
            suite=suite,
            step=f"{suite}/p2/GET /api/me/recordings",
        )
    )


def test_objects_first_shown_by_suites_that_rerun_journeys_join_the_bug_they_confirm() -> None:
    """The demo's gate: switch finds the misfiling; load, stateful and browser, re-running the
    same journeys, each first show some other appointment of it. One bug, one cause (it was
    4); the IDOR the access replay tells apart stays its own."""
    reruns = [_rerun(s, "p3", i, 200 + i) for i, s in enumerate(("load", "stateful", "browser"))]
    causes = group_findings([*misfiled_recordings(), *reruns, *idor()], roles=ROLES)
    assert sorted(c.step for c in causes) == ["access/replay", "switch-mid-call/look"]
    misfiled = next(c for c in causes if c.step == "switch-mid-call/look")
    assert {"load", "stateful", "browser"} <= set(misfiled.suites)
    assert sum(c.count for c in causes) == len(misfiled_recordings()) + 3 + 2


def test_a_bug_only_a_rerunning_suite_shows_is_still_a_cause() -> None:
    """Nothing but the load suite showed these (a race): no discovering suite's cause to join."""
    (alone,) = group_findings([_rerun("load", "p1", 5, 1), _rerun("load", "p3", 6, 2)], roles=ROLES)
    assert alone.suite == "load" and alone.count == 2
    # and another kind of object than the discovered bug's stays apart too
    other = record(
        reason("p1", "p2", 300, resource="recording:p1:9", suite="stateful", step="stateful/x")
    )
    causes = group_findings([*misfiled_recordings(), other], roles=ROLES)
    assert len(causes) == 2
