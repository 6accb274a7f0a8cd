"""The population a profile describes: canaries only in private fields, relations as data."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.population import Counts, make_population
from harness.profile import load_profile
from harness.profile.model import TargetProfile

CLINIC = load_profile("clinic").profile
VAMPI = load_profile("examples/targets/vampi.yaml").profile


def test_same_seed_same_population_other_seed_differs() -> None:
    counts = Counts(owners=4, observers=2, per_owner=1)
    a, b = make_population(CLINIC, 7, counts), make_population(CLINIC, 7, counts)
    c = make_population(CLINIC, 8, counts)
    assert [u.fields for u in a.users] == [u.fields for u in b.users]
    assert a.ownership.canaries == b.ownership.canaries
    assert a.ownership.canaries != c.ownership.canaries


def test_every_private_datum_carries_a_unique_canary_and_public_ones_none() -> None:
    pop = make_population(CLINIC, 1, Counts(owners=5, observers=2, per_owner=3))
    values = [c.value for c in pop.ownership.canaries]
    assert len(values) == len(set(values))
    assert pop.heavy == (pop.of_role("patient")[-1].id,)
    for patient in pop.of_role("patient"):
        own = {c.kind for c in pop.ownership.for_owner(patient.id)}
        # a heavy owner also has an archive of recordings, each with a private title
        archive = {"title"} if patient.id in pop.heavy else set()
        assert (
            own == {"name", "note", "nhs_number", "password", "reason", "email", "phone"} | archive
        )
        name = next(c.value for c in pop.ownership.for_owner(patient.id) if c.kind == "name")
        assert name in patient.fields["display_name"].lower()
        # the username is public by design: it must never hold a canary
        assert not any(v in patient.fields["username"].lower() for v in values)
    for clinician in pop.of_role("clinician"):
        # a clinician's name is shown to patients: public, no canary
        assert {c.kind for c in pop.ownership.for_owner(clinician.id)} == {"password"}
    # 3 appointments for each of 4 owners; 101 appointments and archived recordings for the
    # heavy one
    assert len(pop.resources) == 4 * 3 + 101 * 2


def test_password_canaries_are_not_expected_to_be_shown_back() -> None:
    pop = make_population(VAMPI, 0, Counts(owners=3, observers=1, per_owner=1))
    shown = {c.kind: c.shown for c in pop.ownership.canaries}
    assert shown == {"password": False, "note": True}


def test_visibility_follows_the_relations_only() -> None:
    pop = make_population(CLINIC, 3, Counts(owners=4, observers=2, per_owner=1))
    care = {(observer, owner) for _, observer, owner in pop.relations}
    for clinician in pop.of_role("clinician"):
        for patient in pop.of_role("patient"):
            allowed = pop.ownership.may_see(clinician.id, patient.id)
            assert allowed == ((clinician.id, patient.id) in care)
    p0, p1 = (p.id for p in pop.of_role("patient")[:2])
    assert pop.ownership.may_see(p0, p0)
    assert not pop.ownership.may_see(p1, p0)
    assert not pop.ownership.may_see("anonymous", p0)


def test_see_all_roles_see_everyone() -> None:
    doc = CLINIC.model_dump(by_alias=True, exclude_none=True)
    doc["see_all"] = ["clinician"]
    profile = TargetProfile.model_validate(doc)
    pop = make_population(profile, 0, Counts(owners=3, observers=1, per_owner=1))
    clinician = pop.of_role("clinician")[0].id
    assert all(pop.ownership.may_see(clinician, p.id) for p in pop.of_role("patient"))


def test_a_date_cannot_carry_a_canary() -> None:
    doc = VAMPI.model_dump(by_alias=True, exclude_none=True)
    doc["roles"]["user"]["fields"]["born"] = {"kind": "date"}
    with pytest.raises(ConfigError, match="cannot carry a canary"):
        make_population(
            TargetProfile.model_validate(doc), 0, Counts(owners=1, observers=1, per_owner=1)
        )


VAMPI_NORESET = load_profile("examples/targets/vampi-noreset.yaml").profile


def test_a_target_with_a_reset_gets_no_namespace() -> None:
    pop = make_population(CLINIC, 7, Counts(owners=2, observers=1, per_owner=1))
    assert (
        pop.namespace == ""
        and pop.tag == make_population(CLINIC, 7, Counts(owners=2, observers=1, per_owner=1)).tag
    )


def test_without_a_reset_one_seed_twice_sends_nothing_the_same() -> None:
    """An app that keeps every user: a second population of the same seed must register
    other usernames and e-mails and plant other canaries, yet keep the actor ids a finding's
    steps name, so a replay drives the same users."""
    a, b = (
        make_population(VAMPI_NORESET, 7, Counts(owners=3, observers=1, per_owner=1))
        for _ in range(2)
    )
    assert a.namespace and b.namespace and a.namespace != b.namespace
    assert a.tag != b.tag and a.namespace in a.tag
    assert [u.id for u in a.users] == [u.id for u in b.users]
    for field in ("username", "email", "password"):
        first = {str(u.fields[field]) for u in a.users}
        assert first.isdisjoint(str(u.fields[field]) for u in b.users), field
    assert all(a.namespace in str(u.fields["username"]) for u in a.users)
    titles = [str(r.fields["book_title"]) for r in (*a.resources, *b.resources)]
    assert len(titles) == len(set(titles))
    tokens = {c.value for c in a.ownership.canaries}
    assert tokens.isdisjoint(c.value for c in b.ownership.canaries)


def test_a_namespace_given_is_reproducible() -> None:
    a, b = (
        make_population(
            VAMPI_NORESET, 7, Counts(owners=2, observers=1, per_owner=1), namespace="ab12"
        )
        for _ in "xy"
    )
    assert [u.fields for u in a.users] == [u.fields for u in b.users]
    assert a.ownership.canaries == b.ownership.canaries
