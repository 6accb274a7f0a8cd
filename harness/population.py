"""The synthetic population a profile describes: users of every role, their resources and
relations, with a canary in every private datum and none in a public one.

Everything is drawn from one `random.Random(seed)`, so a run is reproducible from `--seed`.
Values look like the data they stand for ("Ada Zq4k... Lovelace", "zq4k...@example.test")
because targets validate and render them like real data; the canary inside is what the oracle
looks for. Public fields (usernames, titles the app lists for everyone) get unique values with
no canary, so they can never cause a false positive.
"""

from __future__ import annotations

import difflib
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.canaries import Grant, OwnershipModel, Visibility, make_canary
from harness.errors import ConfigError, UsageError
from harness.models import Canary
from harness.profile.model import FieldSpec, TargetProfile
from harness.profile.template import render

__all__ = [
    "Counts",
    "Planned",
    "PlannedUser",
    "Population",
    "counts_for",
    "make_population",
    "owner_count",
]

HEAVY = "heavy"  # the population's name for heavy owners per role (`--population heavy=0`)

_FIRST = ("Ada", "Ben", "Cara", "Dev", "Esme", "Femi", "Gita", "Hal", "Ines", "Jon", "Kemi", "Luca")
_LAST = ("Lovelace", "Okafor", "Patel", "Nowak", "Byrne", "Singh", "Moreau", "Haddad", "Quinn")
_CONDITIONS = ("rash", "cough", "back pain", "migraine", "asthma review", "blood pressure")


@dataclass(frozen=True, slots=True)
class Counts:
    """How many of each, by the profile's own names: users per role and resources per owner
    (`sizes`, e.g. {"patient": 20, "appointment": 10}). A name left out takes the profile's
    `count`. `owners`, `observers` and `per_owner`, when set, size whole classes at once for a
    small world such as the stateful suite's: every role that owns data, every role that only
    observes (TargetProfile.observer_roles), and every resource kind. A named size wins."""

    sizes: Mapping[str, int] = field(default_factory=dict)
    owners: int | None = None
    observers: int | None = None
    per_owner: int | None = None
    # Heavy owners per role that owns lists (None: the profile's `heavy.owners`); a run's
    # population names it `heavy`.
    heavy: int | None = None

    def role(self, profile: TargetProfile, name: str) -> int:
        if name in self.sizes:
            return self.sizes[name]
        whole = self.observers if name in profile.observer_roles() else self.owners
        return whole if whole is not None else profile.roles[name].count

    def resource(self, profile: TargetProfile, kind: str) -> int:
        if kind in self.sizes:
            return self.sizes[kind]
        count = profile.resources[kind].count
        if count == 0:
            return 0  # only heavy owners get it, whatever size a small world takes
        return self.per_owner if self.per_owner is not None else count

    def heavy_owners(self, profile: TargetProfile) -> int:
        if HEAVY in self.sizes and HEAVY not in profile.roles and HEAVY not in profile.resources:
            return self.sizes[HEAVY]
        return self.heavy if self.heavy is not None else profile.heavy.owners


def counts_for(profile: TargetProfile, population: Mapping[str, int]) -> Counts:
    """The run's population checked against the profile: every name is one of its roles or
    resources, and at least two users own data (a leak is one user seeing another's)."""
    known = [*profile.roles, *profile.resources, HEAVY]
    for name in population:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"choose from {', '.join(known)}"
            raise UsageError(
                f"population names '{name}', which is neither a role nor a resource of "
                f"profile '{profile.name}'",
                hint,
            )
    counts = Counts(sizes=dict(population))
    if population.get(HEAVY, 0) > 10 and HEAVY not in profile.roles:
        raise UsageError(
            f"population heavy={population[HEAVY]}: heavy owners are a few (at most 10 per "
            "role); each one's lists run past 3 pages",
            "give heavy 0 to 10",
        )
    owning = [r for r in profile.roles if r not in profile.observer_roles()]
    if owning and sum(counts.role(profile, r) for r in owning) < 2:
        raise UsageError(
            f"population {_sizes(profile, counts, owning)} has fewer than two users who own "
            "data; a leak is one user seeing another's",
            f"give {owning[0]} 2 or more (--population {owning[0]}=2)",
        )
    return counts


def owner_count(profile: TargetProfile, counts: Counts) -> int:
    """Users whose roles own data: who drive the scenarios' flows."""
    return sum(counts.role(profile, r) for r in profile.roles if r not in profile.observer_roles())


def _sizes(profile: TargetProfile, counts: Counts, roles: list[str]) -> str:
    return ", ".join(f"{r}={counts.role(profile, r)}" for r in roles)


@dataclass(frozen=True, slots=True)
class PlannedUser:
    id: str
    role: str
    index: int
    fields: Mapping[str, Any] = field(compare=False, hash=False)

    @property
    def display_name(self) -> str:
        for name in ("display_name", "name", "full_name", "username"):
            if name in self.fields:
                return str(self.fields[name])
        return self.id


@dataclass(frozen=True, slots=True)
class Planned:
    """A resource to create: owner's n-th of `kind`, with its generated fields."""

    kind: str
    owner: str
    index: int
    fields: Mapping[str, Any] = field(compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.owner}:{self.index}"


@dataclass(frozen=True, slots=True)
class Population:
    seed: int
    tag: str
    users: tuple[PlannedUser, ...]
    resources: tuple[Planned, ...]
    relations: tuple[tuple[str, str, str], ...]  # (relation, observer, owner)
    ownership: OwnershipModel
    # "" when the target is reset before seeding; otherwise a nonce that every value sent to
    # the app carries (see `make_population`).
    namespace: str = ""
    heavy: tuple[str, ...] = ()  # heavy owners: ids of users seeded with long lists

    def of_role(self, role: str) -> tuple[PlannedUser, ...]:
        return tuple(u for u in self.users if u.role == role)


def make_population(
    profile: TargetProfile,
    seed: int,
    counts: Counts | None = None,
    namespace: str | None = None,
) -> Population:
    """The population of `profile` for `seed`.

    A target without `reset:` keeps every user an earlier run created, so a seed used twice
    would register the same usernames again. There, each population gets a fresh `namespace`
    (None: draw one when the profile has no reset): usernames, e-mails, `{{run.tag}}` and every
    canary change with it, so neither the app nor the oracle can confuse this run's users with
    an earlier run's. Actor ids stay those of the seed, so a finding's steps replay on a new
    namespace.
    """
    counts = counts or Counts()
    if namespace is None:
        namespace = "" if profile.reset else secrets.token_hex(3)
    rng = random.Random(seed)
    base = f"{rng.randrange(16**6):06x}"
    tag = f"{base}-{namespace}" if namespace else base
    if namespace:
        rng = random.Random(f"{seed}/{namespace}")
    planter = _Planter(rng)
    users: list[PlannedUser] = []
    for role, spec in profile.roles.items():
        prefix = spec.id_prefix or role
        for i in range(counts.role(profile, role)):
            uid = f"{prefix}{i}-{base}"
            scope = {"run": {"tag": tag, "seed": seed}, "index": i, "id": f"{prefix}{i}-{tag}"}
            values = planter.fields(spec.fields, uid, "", scope, role)
            users.append(PlannedUser(uid, role, i, values))
    relations = _relate(profile, users)
    heavy = _heavy(profile, counts, users)
    rows = profile.heavy_rows()
    resources: list[Planned] = []
    for kind, rspec in profile.resources.items():
        for owner in (u for u in users if u.role == rspec.owner):
            count = counts.resource(profile, kind)
            if owner.id in heavy and rspec.heavy:
                count = max(count, rows)
            for k in range(count):
                key = f"{kind}:{owner.id}:{k}"
                named = f"{owner.id}-{namespace}" if namespace else owner.id
                scope = {"run": {"tag": tag, "seed": seed}, "index": k, "id": f"{named}-{k}"}
                values = planter.fields(rspec.fields, owner.id, key, scope, kind)
                resources.append(Planned(kind, owner.id, k, values))
    see_all = [u.id for u in users if u.role in profile.see_all]
    grants = [Grant(observer, owner, relation) for relation, observer, owner in relations]
    return Population(
        seed=seed,
        tag=tag,
        users=tuple(users),
        resources=tuple(resources),
        relations=tuple(relations),
        ownership=OwnershipModel(tuple(planter.canaries), Visibility(grants, see_all)),
        namespace=namespace,
        heavy=heavy,
    )


def _heavy(profile: TargetProfile, counts: Counts, users: list[PlannedUser]) -> tuple[str, ...]:
    """The heavy owners: the last `heavy` users of every role whose data a list shows. The
    last, so the first users (the browser's, the controls') keep the size they always had."""
    wanted = counts.heavy_owners(profile)
    if wanted <= 0:
        return ()
    chosen: list[str] = []
    for role in profile.list_owner_roles():
        of_role = [u.id for u in users if u.role == role]
        chosen += of_role[-wanted:]
    return tuple(chosen)


def _relate(profile: TargetProfile, users: list[PlannedUser]) -> list[tuple[str, str, str]]:
    pairs: list[tuple[str, str, str]] = []
    for name, relation in profile.relations.items():
        observers = [u.id for u in users if u.role == relation.observer]
        owners = [u.id for u in users if u.role == relation.owner]
        if not observers:
            continue
        for i, owner in enumerate(owners):
            chosen = observers if relation.assign == "all" else [observers[i % len(observers)]]
            pairs += [(name, observer, owner) for observer in chosen if observer != owner]
    return pairs


class _Planter:
    """Generates field values, planting a distinct canary in each private one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.canaries: list[Canary] = []
        self._taken: set[str] = set()

    def fields(
        self,
        specs: Mapping[str, FieldSpec],
        owner: str,
        resource: str,
        scope: Mapping[str, Any],
        label_prefix: str,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in specs.items():
            if spec.value is not None:
                values[name] = render(spec.value, {**scope, **values})
            elif spec.public:
                values[name] = _public(spec.kind, name, scope)
            else:
                value, token = self._unique(spec.kind)
                values[name] = value
                label = f"{label_prefix} {name.replace('_', ' ')}"
                canary = Canary(token, owner, spec.kind, label, resource, spec.expect_seen)
                self.canaries.append(canary)
        return values

    def _unique(self, kind: str) -> tuple[str, str]:
        """A value whose token no other canary of the world has: two owners of one token
        would make every sighting of it a false leak."""
        for _ in range(1000):
            value, token = _private(self.rng, kind, make_canary(self.rng))
            if token not in self._taken:
                self._taken.add(token)
                return value, token
        raise ConfigError(f"ran out of distinct {kind} values", "use fewer users or another kind")


def _public(kind: str, name: str, scope: Mapping[str, Any]) -> str:
    """Unique, canary-free values for data that is public by design."""
    uid = str(scope["id"])
    if kind == "email":
        return f"{uid}@example.test"
    if kind in ("datetime", "date"):
        index = int(scope["index"])
        day = f"2026-12-{1 + index % 28:02d}"
        return day if kind == "date" else f"{day}T{9 + index % 8:02d}:00:00"
    if kind == "username":
        return uid
    return f"{name}-{uid}"


def _private(rng: random.Random, kind: str, canary: str) -> tuple[str, str]:
    """(the value to plant, the canary token inside it). Most kinds wrap a `zq...` token; an
    NHS-like number or a phone number is its own token."""
    if kind == "name":
        return f"{rng.choice(_FIRST)} {canary.capitalize()} {rng.choice(_LAST)}", canary
    if kind == "email":
        return f"{canary}@example.test", canary
    if kind == "note":
        return f"Allergic to penicillin & <latex>; ref {canary}", canary
    if kind == "password":
        return f"Pw-{canary}", canary
    if kind == "reason":
        return f"Follow-up: {rng.choice(_CONDITIONS)} ({canary})", canary
    if kind == "nhs_number":
        number = _nhs_like(rng)
        return number, number
    if kind == "phone":
        number = f"+447700900{rng.randrange(1000):03d}"
        return number, number
    if kind == "username":
        return f"u{canary}", canary
    if kind in ("datetime", "date"):
        raise ConfigError(
            f"a {kind} field cannot carry a canary", "mark it `public: true` or use kind text"
        )
    return f"{kind.replace('_', ' ')} {canary}", canary


def _nhs_like(rng: random.Random) -> str:
    # The 999 range is the NHS's own range for test numbers, so no real patient has one. It
    # is spaced like a real NHS number, so it cannot collide with a timestamp or id in JSON,
    # and its fixed "99" start keeps the matcher's prefix filter on (see harness.matcher).
    digits = "".join(rng.choice("0123456789") for _ in range(7))
    return f"999 {digits[:3]} {digits[3:]}"
