"""Findings triaged into root causes, keyed on the leaked object.

One bug floods a run: a misfiled recording shows its patient's appointment reason on the
recordings list, the profile page, search, the CSV export, the media, the e-mail ... to every
observer it reaches, in every suite and every later scenario. Those are one bug, so a root cause
is keyed on *what* leaked and where it first showed, not on where it was seen since:

- the leaked object: the resource whose canary leaked (`appointment:p0-ab:3`; a user field
  such as the display name has no resource, so the owner's record as one route serves it), the
  list items a list should not have held, the entity served after it was withdrawn. A cause
  is keyed on its owners' role ("a patient's data"): one bug leaks many patients' data, of
  several kinds, at once;
- the first sighting of each concrete object (its first step, on whatever surface): the cause
  is keyed on the suite of that step, and shows the step itself (`switch-mid-call/look`).
  Keying on the exact step would split one bug by which scenario happened to file the object
  (measured: the demo's one bug came out as 9 causes), while a bug that only another suite's
  reads reveal (an IDOR found by the access replay) stays a cause of its own;
- suites that re-run the journeys the others drive (load's journeys, stateful's random
  sequences, browser's scenarios in Chromium) are not where a bug is told apart: an object one
  of them shows first joins the cause of the same owners' role and object kind that a
  discovering suite (switch, access, fuzz ...) found, when there is one. The demo's gate, with
  every suite of its policy, split the incident's one bug into 4 without this (switch, load,
  stateful and browser each first showing some appointment);
- a finding with no owner (a list of the wrong length) joins the cause of an owned finding of
  the same response; otherwise its kind and route stand in for the object (a 5xx).

The surfaces, routes, suites, object kinds and owner -> observer pairs it then showed up in
are listed beneath the cause as evidence. Every finding belongs to exactly one cause, so the
causes' `count`s (findings) add up to the run's finding count; `occurrences` counts repeat
sightings. The console, the HTML report, JUnit (one failing case per cause) and report.json
(`causes`) all show causes; report.json keeps every finding as well.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.models import Finding, Severity, Step
from reports.result import FindingRecord

__all__ = [
    "FindingGroup",
    "cause_ids",
    "cause_step",
    "group_findings",
    "leaked_object",
    "repro_text",
]

# Suites that re-run journeys the others drive: they confirm a bug more than tell one apart.
RERUNNING = frozenset({"load", "stateful", "browser"})
_SEVERITY = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
_PAGE = re.compile(r" \(page \d+\)$")


@dataclass(frozen=True, slots=True)
class LeakedObject:
    """What a finding shows: `ident` names the concrete object, whose first sighting sets the
    suite its cause is keyed on; `kind` names it in the cause's title."""

    ident: str  # "appointment:p0-ab:3", "record:p0-ab@GET /profile", "server-error:GET /x"
    kind: str  # "appointment", "record", "recording", "server-error on GET /x"


def leaked_object(finding: Finding) -> LeakedObject:
    extra = dict(finding.extra)
    owner = finding.owner or ""
    if finding.kind == "canary-leak" and owner:
        resource = extra.get("resource", "")
        if resource:
            return LeakedObject(resource, resource.split(":", 1)[0])
        # A user field (a name) has no resource of its own: the route that served it stands
        # in. The owner's name shown in another patient's list and in a recording's metadata
        # anyone may fetch are two leaks, though both are "the owner's record".
        route = _PAGE.sub("", finding.surface.where)
        return LeakedObject(f"record:{owner}@{route}", "record")
    if "entity" in extra:
        kind = extra["entity"].split(":", 1)[0]
        return LeakedObject(extra["entity"], kind)
    if finding.kind.startswith("foreign-") and owner:
        kind = finding.kind.removeprefix("foreign-")
        return LeakedObject(f"{kind}:{owner}", kind)
    route = _PAGE.sub("", finding.surface.where)
    if owner:
        return LeakedObject(f"{finding.kind}:{owner}", finding.kind)
    return LeakedObject(f"{finding.kind}:{route}", f"{finding.kind} on {route}")


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """One root cause and the findings that are its evidence."""

    key: str
    owner_role: str  # whose data leaked: the owners' role ("" for findings nobody owns)
    suite: str  # the suite whose step first showed it
    step: str  # that step, without its actor: "switch-mid-call/look", "access/replay"
    example: str  # the first concrete object shown: "appointment:p0-ab12:3"
    severity: Severity
    records: tuple[FindingRecord, ...]  # earliest first
    accepted: bool  # every member is an accepted exposure
    objects: tuple[str, ...] = ()  # the leaked objects' kinds, first shown first

    @property
    def count(self) -> int:
        """Findings (deduplicated); the causes' counts add up to the run's findings."""
        return len(self.records)

    @property
    def occurrences(self) -> int:
        return sum(r.occurrences for r in self.records)

    @property
    def kind(self) -> str:
        """The finding kind of the first sighting (a cause may hold several kinds)."""
        return self.first.finding.kind

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({r.finding.kind for r in self.records}))

    @property
    def first(self) -> FindingRecord:
        return self.records[0]

    @property
    def exposures(self) -> tuple[tuple[str, str], ...]:
        pairs = {(r.finding.owner, r.finding.observer) for r in self.records if r.finding.owner}
        return tuple(sorted((o or "", b) for o, b in pairs))

    @property
    def owners(self) -> tuple[str, ...]:
        return tuple(sorted({r.finding.owner for r in self.records if r.finding.owner}))

    @property
    def observers(self) -> tuple[str, ...]:
        return tuple(sorted({r.finding.observer for r in self.records}))

    @property
    def suites(self) -> tuple[str, ...]:
        return tuple(sorted({r.finding.suite.split("@", 1)[0] for r in self.records}))

    @property
    def surfaces(self) -> tuple[str, ...]:
        """Every surface it showed on, `kind:route` without page suffixes."""
        return tuple(
            sorted(
                {
                    f"{r.finding.surface.kind}:{_PAGE.sub('', r.finding.surface.where)}"
                    for r in self.records
                }
            )
        )

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(sorted({_PAGE.sub("", r.finding.surface.where) for r in self.records}))

    @property
    def data(self) -> tuple[str, ...]:
        """The data kinds that leaked (name, reason ...)."""
        return tuple(
            sorted({str(r.finding.canary_kind) for r in self.records if r.finding.canary_kind})
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """The fields the data came from ("appointment reason"), as the profile names them."""
        found = (dict(r.finding.extra).get("label") or "" for r in self.records)
        return tuple(sorted({label for label in found if label}))

    @property
    def shortest(self) -> Finding:
        """The member with the shortest reproduction (then the earliest)."""
        return min((r.finding for r in self.records), key=lambda f: (len(f.repro), f.time))

    @property
    def object(self) -> str:
        """The kind of the first object shown: "appointment", "record" ..."""
        return self.objects[0] if self.objects else ""

    @property
    def what(self) -> str:
        """The leaked objects in words: "patient's appointment, own record (appointment reason,
        patient display name)"."""
        whose = f"{self.owner_role}'s " if self.owner_role else ""
        things = ", ".join("own record" if o == "record" else o for o in self.objects)
        fields = f" ({', '.join(self.labels)})" if self.labels else ""
        return f"{whose}{things}{fields}"

    @property
    def title(self) -> str:
        return f"{self.what} first shown at {self.step}"

    @property
    def evidence(self) -> str:
        """One line of what is beneath: how far it spread."""
        people = f"{len(self.owners)} owner(s) -> {len(self.observers)} observer(s)"
        if not self.owners:
            people = f"{len(self.observers)} observer(s)"
        return (
            f"{self.count} finding(s), {people}, {len(self.surfaces)} surface(s), "
            f"suites {', '.join(self.suites)}"
        )


def cause_step(step: str) -> str:
    """A step name without its actor: `switch/switch-mid-call/p3-ab12/switch_to_video` ->
    `switch-mid-call/switch_to_video`; access repeats -> `access/replay`; a load user's
    `load/c0-ab/GET /api/x (page 2)` -> `load/GET /api/x`."""
    parts = step.split("/")
    if parts and parts[0] == "access":
        return "access/replay"
    if parts[0] == "load" and len(parts) >= 3:  # load/<actor>/<METHOD /route>
        return _PAGE.sub("", "load/" + step.split("/", 2)[2])
    if len(parts) >= 4:
        return f"{parts[1]}/{parts[3]}"
    if len(parts) == 3:
        return f"{parts[0]}/{parts[2]}"
    return step


def group_findings(
    records: Iterable[FindingRecord],
    accepted: Iterable[str] = (),
    roles: Mapping[str, str] | None = None,
) -> list[FindingGroup]:
    """Root causes, unaccepted first, then most severe, most findings, first shown."""
    accepted_keys = set(accepted)
    roles = roles or {}
    ordered = sorted(records, key=lambda r: (r.first_seen, r.key))
    objects = {r.key: leaked_object(r.finding) for r in ordered}
    first_suite: dict[str, str] = {}
    for record in ordered:  # earliest first: an object's first sighting sets its suite
        first_suite.setdefault(objects[record.key].ident, _suite(record.finding))
    # (owners' role, object kind) -> the first discovering suite that showed such an object
    found_by: dict[tuple[str, str], str] = {}
    for record in ordered:
        f, thing = record.finding, objects[record.key]
        if f.owner and first_suite[thing.ident] not in RERUNNING:
            found_by.setdefault((roles.get(f.owner, "user"), thing.kind), first_suite[thing.ident])
    keys: dict[str, tuple[str, str]] = {}
    by_response: dict[tuple[str, str, float], tuple[str, str]] = {}
    for record in ordered:
        f, thing = record.finding, objects[record.key]
        if f.owner:
            role, suite = roles.get(f.owner, "user"), first_suite[thing.ident]
            if suite in RERUNNING:
                suite = found_by.get((role, thing.kind), suite)
            key = (role, suite)
            keys[record.key] = key
            by_response.setdefault((f.observer, f.step, f.time), key)
    buckets: dict[tuple[str, str], list[FindingRecord]] = {}
    for record in ordered:
        f = record.finding
        if record.key not in keys:
            # Nobody's data: part of the bug an owned finding of the same response shows
            # (a list one item too long because it holds someone else's), else its own cause.
            alone = (f"~{objects[record.key].kind}", first_suite[objects[record.key].ident])
            keys[record.key] = by_response.get((f.observer, f.step, f.time), alone)
        buckets.setdefault(keys[record.key], []).append(record)
    groups = [_group(key, members, objects, accepted_keys) for key, members in buckets.items()]
    groups.sort(
        key=lambda g: (g.accepted, _SEVERITY.get(g.severity, 9), -g.count, g.first.first_seen)
    )
    return groups


def _suite(finding: Finding) -> str:
    return (finding.suite or finding.step.split("/", 1)[0]).split("@", 1)[0]


def cause_ids(
    records: Sequence[FindingRecord], roles: Mapping[str, str] | None = None
) -> dict[str, Finding]:
    """Each cause's key (as the run's summary, the HTML report and JUnit show it) -> the
    finding that stands for it: its shortest reproduction. `roles` as the run's (actor ->
    role), which the keys are computed with."""
    accepted = [r.key for r in records if r.accepted]
    return {g.key: g.shortest for g in group_findings(records, accepted, roles)}


def _group(
    key: tuple[str, str],
    members: Sequence[FindingRecord],
    objects: Mapping[str, LeakedObject],
    accepted: set[str],
) -> FindingGroup:
    role, suite = key
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:10]
    first = members[0]
    severity = min((r.finding.severity for r in members), key=lambda s: _SEVERITY.get(s, 9))
    # A list too long is evidence of the foreign items it held, not an object of its own.
    owned = [r for r in members if r.finding.owner] or list(members)
    kinds = tuple(dict.fromkeys(objects[r.key].kind for r in owned))
    return FindingGroup(
        key=digest,
        owner_role="" if role.startswith("~") else role,
        suite=suite,
        step=cause_step(first.finding.step),
        example=objects[first.key].ident,
        severity=severity,
        records=tuple(members),
        accepted=all(r.key in accepted for r in members),
        objects=kinds,
    )


def repro_text(steps: Sequence[Step]) -> str:
    return "\n".join(f"{i + 1}. {s.actor} {s.action} {s.arg}".rstrip() for i, s in enumerate(steps))
