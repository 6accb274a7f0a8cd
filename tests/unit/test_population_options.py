"""The run's population is named by the profile's roles and resources; `--patients` and
`--clinicians` are aliases only where the profile has such roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaperone.sizes import population_of, slo_of
from harness.errors import UsageError
from harness.population import Counts, counts_for, make_population
from harness.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
CLINIC = load_profile("clinic").profile
VAMPI = load_profile(str(ROOT / "examples" / "targets" / "vampi.yaml")).profile


def test_aliases_resolve_against_the_profiles_roles() -> None:
    sizes = population_of(CLINIC, ["appointment=12"], patients=6, clinicians=None)
    assert sizes == {"appointment": 12, "patient": 6}
    assert population_of(VAMPI, ["user=20"]) == {"user": 20}


def test_an_alias_for_a_role_the_profile_lacks_names_the_fix() -> None:
    with pytest.raises(UsageError) as info:
        population_of(VAMPI, (), patients=6)
    line = info.value.one_line()
    assert "--patients" in line and "'patient'" in line and "--population ROLE=6" in line
    assert "user" in line and "\n" not in line


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        (["nurse=3"], "neither a role nor a resource"),
        (["patinet=3"], "did you mean 'patient'"),
        (["patient"], "is not NAME=N"),
        (["patient=1"], "fewer than two users who own data"),
    ],
)
def test_population_mistakes_are_usage_errors(pairs: list[str], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        population_of(CLINIC, pairs)


def test_the_population_sizes_each_role_and_resource_by_name() -> None:
    counts = counts_for(CLINIC, {"patient": 3, "appointment": 2, "heavy": 0})
    population = make_population(CLINIC, 0, counts)
    assert len(population.of_role("patient")) == 3
    assert len(population.of_role("clinician")) == CLINIC.roles["clinician"].count
    assert len(population.resources) == 3 * 2
    # with its heavy owner, the last patient's lists run past 3 pages and 100 rows
    heavy = make_population(CLINIC, 0, counts_for(CLINIC, {"patient": 3, "appointment": 2}))
    mine = [r for r in heavy.resources if r.owner == heavy.heavy[0]]
    assert len(heavy.resources) - len(mine) == 2 * 2 and len(mine) == 2 * 101


def test_a_small_world_sizes_owners_and_observers_without_naming_them() -> None:
    small = Counts(owners=2, observers=1, per_owner=1, heavy=0)
    for profile, owner in ((CLINIC, "patient"), (VAMPI, "user")):
        population = make_population(profile, 0, small)
        assert len(population.of_role(owner)) == 2
        # a kind of count 0 is only ever a heavy owner's (the clinic's archived recordings)
        seeded = [kind for kind, spec in profile.resources.items() if spec.count]
        assert len(population.resources) == 2 * len(seeded)
    assert len(make_population(CLINIC, 0, small).of_role("clinician")) == 1


def test_slo_routes_come_from_the_command_line() -> None:
    slo = slo_of(["GET /api/items/{id}=800"], 0.02, 3)
    assert slo.routes["GET /api/items/{id}"].p95_ms == 800 and slo.min_rps == 3
    with pytest.raises(UsageError, match="is not ROUTE=MS"):
        slo_of(["GET /api/items"], 0.01, 5)


def test_a_named_count_is_refused_with_the_role_keyed_form() -> None:
    doc = CLINIC.model_dump(by_alias=True, exclude_none=True)
    doc["roles"]["patient"]["count"] = "patients"
    with pytest.raises(ValueError, match=r"--population <name>=N"):
        type(CLINIC).model_validate(doc)
