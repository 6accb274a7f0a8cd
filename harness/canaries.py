"""Canaries and the ownership model: who owns each planted value and who may see it.

A canary is a short token that cannot occur by chance (`zq` + 10 base-36 characters). It is
planted inside realistic-looking data ("Ada Zq4k... Lovelace"), so finding it in a response
proves that this patient's datum reached that observer. Canaries are lower-case ASCII letters and
digits only, so HTML and JSON escaping never change them; the matcher also decodes escapes
anyway, because a target might escape in ways we do not expect.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.bounded import MAX_DATA_BYTES, read_bounded
from harness.errors import ConfigError
from harness.models import Canary

CANARY_PREFIX = "zq"
CANARY_LENGTH = 12
_ALPHABET = string.ascii_lowercase + string.digits


def make_canary(rng: random.Random) -> str:
    """A fresh canary; reproducible from the run's seeded RNG."""
    return CANARY_PREFIX + "".join(rng.choice(_ALPHABET) for _ in range(CANARY_LENGTH - 2))


INFINITY = float("inf")
Window = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Grant:
    """`observer` may see `owner`'s data between `since` and `until` (epoch seconds)."""

    observer: str
    owner: str
    relation: str = ""
    since: float = -INFINITY
    until: float = INFINITY

    def overlaps(self, window: Window) -> bool:
        sent, received = window
        return self.since <= received and self.until >= sent


@dataclass(frozen=True, slots=True)
class Denial:
    """From `since` on, entity `kind:entity` may not be served to `observers` (empty: anyone,
    the owner included: a deleted recording is gone for everyone)."""

    kind: str
    entity: str
    since: float
    observers: frozenset[str] = frozenset()
    reason: str = ""


class Visibility:
    """Who may see whose data, as a function of time. Append-only: a relation that ends is
    closed at the moment the change completed, never erased, so a read judged later is judged
    against the relations in force while it was in flight.

    A read in flight during [sent, received] may see what any grant allowed at some point in
    that window: the server could have produced it at any instant in between. A change is
    recorded when the call making it completed (revocations) or started (new grants), so the
    harness never blames the target for a race it cannot rule out.
    """

    def __init__(
        self,
        grants: Iterable[Grant] = (),
        see_all: Iterable[str] = (),
        denials: Iterable[Denial] = (),
    ) -> None:
        self._grants: dict[tuple[str, str], list[Grant]] = {}
        self.see_all: frozenset[str] = frozenset(see_all)
        self._denials: dict[tuple[str, str], list[Denial]] = {}
        for grant in grants:
            self._add(grant)
        for denial in denials:
            self._denials.setdefault((denial.kind, denial.entity), []).append(denial)

    def _add(self, grant: Grant) -> None:
        self._grants.setdefault((grant.observer, grant.owner), []).append(grant)

    def grants(self) -> list[Grant]:
        return [g for gs in self._grants.values() for g in gs]

    def denials(self) -> list[Denial]:
        return [d for ds in self._denials.values() for d in ds]

    def may_see(self, observer: str, owner: str, window: Window | None = None) -> bool:
        if observer == owner or observer in self.see_all:
            return True
        grants = self._grants.get((observer, owner))
        if not grants:
            return False
        at = window or _now_window()
        return any(g.overlaps(at) for g in grants)

    def observers_of(self, owner: str, at: float | None = None) -> set[str]:
        """Everyone but the owner who may see `owner`'s data at `at` (default: now)."""
        when = (at, at) if at is not None else _now_window()
        return {
            observer
            for (observer, whose), grants in self._grants.items()
            if whose == owner and any(g.overlaps(when) for g in grants)
        } | set(self.see_all - {owner})

    def related(self, relation: str, owner: str, at: float | None = None) -> list[str]:
        """Observers related to `owner` through `relation` at `at` (default: now)."""
        when = (at, at) if at is not None else _now_window()
        return sorted(
            observer
            for (observer, whose), grants in self._grants.items()
            if whose == owner and any(g.relation == relation and g.overlaps(when) for g in grants)
        )

    def grant(self, observer: str, owner: str, relation: str, since: float) -> None:
        self._add(Grant(observer, owner, relation, since=since))

    def revoke(self, observer: str, owner: str, relation: str, at: float) -> int:
        """Close every open grant of `relation` from `observer` to `owner`; returns how many."""
        closed = 0
        grants = self._grants.get((observer, owner), [])
        for index, grant in enumerate(grants):
            if grant.relation == relation and grant.until == INFINITY and grant.since <= at:
                grants[index] = Grant(grant.observer, grant.owner, grant.relation, grant.since, at)
                closed += 1
        return closed

    def deny(self, denial: Denial) -> None:
        self._denials.setdefault((denial.kind, denial.entity), []).append(denial)

    def denied(self, observer: str, kind: str, entity: str, window: Window) -> Denial | None:
        """The denial in force for the whole window, if the entity may not reach `observer`."""
        for denial in self._denials.get((kind, entity), ()):
            if denial.since < window[0] and (not denial.observers or observer in denial.observers):
                return denial
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "grants": [
                {
                    "observer": g.observer,
                    "owner": g.owner,
                    "relation": g.relation,
                    "since": _finite(g.since),
                    "until": _finite(g.until),
                }
                for g in self.grants()
            ],
            "see_all": sorted(self.see_all),
            "denials": [
                {
                    "kind": d.kind,
                    "entity": d.entity,
                    "since": d.since,
                    "observers": sorted(d.observers),
                    "reason": d.reason,
                }
                for d in self.denials()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Visibility:
        grants = [
            Grant(
                str(g["observer"]),
                str(g["owner"]),
                str(g.get("relation", "")),
                _infinite(g.get("since"), -INFINITY),
                _infinite(g.get("until"), INFINITY),
            )
            for g in data.get("grants", [])
        ]
        denials = [
            Denial(
                str(d["kind"]),
                str(d["entity"]),
                float(d["since"]),
                frozenset(map(str, d.get("observers", []))),
                str(d.get("reason", "")),
            )
            for d in data.get("denials", [])
        ]
        return cls(grants, map(str, data.get("see_all", [])), denials)


def _now_window() -> Window:
    now = time.time()
    return (now, now)


def _finite(value: float) -> float | None:
    return None if value in (INFINITY, -INFINITY) else value


def _infinite(value: Any, default: float) -> float:
    return default if value is None else float(value)


@dataclass(frozen=True, slots=True)
class OwnershipModel:
    """Every canary with its owner, and who may see whose data, over time."""

    canaries: tuple[Canary, ...]
    visibility: Visibility = field(default_factory=Visibility)

    def may_see(self, observer: str, owner: str, window: Window | None = None) -> bool:
        return self.visibility.may_see(observer, owner, window)

    def owners(self) -> frozenset[str]:
        return frozenset(c.owner for c in self.canaries)

    def for_owner(self, owner: str) -> tuple[Canary, ...]:
        return tuple(c for c in self.canaries if c.owner == owner)

    def to_json(self) -> dict[str, Any]:
        return {
            "canaries": [
                {
                    "value": c.value,
                    "owner": c.owner,
                    "kind": str(c.kind),
                    "label": c.label,
                    "resource": c.resource,
                    "shown": c.shown,
                }
                for c in self.canaries
            ],
            "visibility": self.visibility.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OwnershipModel:
        try:
            canaries = tuple(
                Canary(
                    value=str(c["value"]),
                    owner=str(c["owner"]),
                    kind=str(c["kind"]),
                    label=str(c.get("label", "")),
                    resource=str(c.get("resource", "")),
                    shown=bool(c.get("shown", True)),
                )
                for c in data["canaries"]
            )
            visibility = Visibility.from_json(data["visibility"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"ownership model is malformed ({exc!r})",
                "regenerate it with `chaperone run`; it is written, not hand-edited",
            ) from exc
        return cls(canaries=canaries, visibility=visibility)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> OwnershipModel:
        try:
            data = json.loads(read_bounded(path, "ownership model", MAX_DATA_BYTES))
        except (OSError, ValueError, RecursionError) as exc:
            raise ConfigError(
                f"cannot read ownership model {path}: {exc}",
                "pass the canaries.json that the run wrote",
            ) from exc
        return cls.from_json(data)

    @classmethod
    def build(
        cls,
        canaries: Iterable[Canary],
        visibility: Mapping[str, Iterable[str]],
        see_all: Iterable[str] = (),
    ) -> OwnershipModel:
        """A model whose relations never change: `visibility[owner]` may always see owner's."""
        grants = [Grant(obs, owner) for owner, observers in visibility.items() for obs in observers]
        return cls(canaries=tuple(canaries), visibility=Visibility(grants, see_all))
