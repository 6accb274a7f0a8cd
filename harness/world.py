"""The seeded world: the synthetic population as it exists on the target after seeding.

It is what every suite starts from: the actors (with what creating them captured, such as a
server id), the resources they own, the canaries and who may see whose data. It is written to
`world.json` with the target profile inside, so a process the harness spawns (a Locust worker,
a replay) judges responses with exactly the same ownership model and list parsing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from harness.bounded import MAX_DATA_BYTES, read_bounded
from harness.canaries import Denial, OwnershipModel
from harness.errors import ConfigError
from harness.media_ledger import CallLedger
from harness.models import Actor

__all__ = ["Completed", "Resource", "World"]


@dataclass(frozen=True, slots=True)
class Resource:
    """Something a user created (a book, an appointment): its fields and captured ids."""

    kind: str
    owner: str  # actor id
    index: int  # the owner's n-th resource of this kind
    vars: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.owner}:{self.index}"


@dataclass(frozen=True, slots=True)
class Completed:
    """A flow that changes who may see what has completed: what the world applies. A target
    reports it; it never changes visibility itself."""

    why: str  # "<flow> for <owner>": the reason a later denial names
    owner: str
    started: float
    done: float
    relation: str | None = None  # the relation it moves or ends
    receiver: str | None = None  # where a move takes the owner (None: the relation ends)
    entity: tuple[str, str] | None = None  # (kind, id) it denies
    to: str = "related"  # who the denial is for: the owner's related observers, or everyone


@dataclass(frozen=True, slots=True)
class World:
    target: str  # base URL
    seed: int
    actors: Mapping[str, Actor]
    ownership: OwnershipModel
    resources: tuple[Resource, ...] = ()
    # The target profile as a plain document: workers rebuild list parsing from it.
    profile: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    tag: str = ""  # unique per seeded population; usernames carry it
    # Heavy owners (harness.population): their lists are long, and `each` reads sample them.
    heavy: tuple[str, ...] = ()
    # What the harness's real callers sent on this world's calls (harness.media_ledger): not
    # saved, since only the process driving the callers knows it.
    calls: CallLedger = field(default_factory=CallLedger, compare=False, hash=False, repr=False)

    def of_role(self, *roles: str) -> tuple[Actor, ...]:
        return tuple(a for a in self.actors.values() if a.role in roles)

    def owners(self) -> tuple[Actor, ...]:
        """Actors that own resources or private data: who drives flows on their own things."""
        owning = {r.owner for r in self.resources} | self.ownership.owners()
        return tuple(a for a in self.actors.values() if a.id in owning)

    def resources_of(self, owner: str, kind: str | None = None) -> tuple[Resource, ...]:
        return tuple(
            r for r in self.resources if r.owner == owner and (kind is None or r.kind == kind)
        )

    def actor_by_var(self, var: str, value: Any) -> str | None:
        """The actor whose variable `var` (a server id, a username) equals `value`."""
        wanted = str(value)
        for actor in self.actors.values():
            if var in actor.vars and str(actor.vars[var]) == wanted:
                return actor.id
        return None

    def expected_count(
        self, observer: str, kind: str, window: tuple[float, float] | None = None
    ) -> int:
        """How many resources of `kind` `observer` may see: theirs and related owners'."""
        return sum(
            1
            for r in self.resources
            if r.kind == kind and self.ownership.may_see(observer, r.owner, window)
        )

    def next_observer(self, relation: str, role: str, owner: str) -> str | None:
        """Where a move takes `owner`: the last actor of the relation's observer `role`, in id
        order; None when that one is already related (such an owner stays put).

        Every move goes one way, into one receiver, so the others only give owners away: a
        stale cache or grant on the giving side cannot be hidden by a move back into it (two
        observers swapping owners would each refresh their own list)."""
        candidates = sorted(a.id for a in self.actors.values() if a.role == role)
        if not candidates:
            return None
        target = candidates[-1]
        current = self.ownership.visibility.related(relation, owner)
        return None if target in current else target

    def apply(self, change: Completed) -> None:
        """Judge later reads by the new relations: an ended relation from when the change
        completed, a new one from when it started."""
        visibility = self.ownership.visibility
        if change.relation is not None:
            for observer in visibility.related(change.relation, change.owner, at=change.started):
                visibility.revoke(observer, change.owner, change.relation, at=change.done)
            if change.receiver is not None:
                visibility.grant(change.receiver, change.owner, change.relation, change.started)
            return
        if change.entity is None:
            return
        observers: frozenset[str] = frozenset()
        if change.to == "related":
            observers = frozenset(visibility.observers_of(change.owner, at=change.started))
        kind, entity = change.entity
        visibility.deny(Denial(kind, entity, change.done, observers, reason=change.why))

    def to_json(self) -> dict[str, Any]:
        return {
            # world.json is a file anyone with the run directory reads: no user:password@.
            "target": without_userinfo(self.target),
            "seed": self.seed,
            "tag": self.tag,
            "actors": [
                {
                    "id": a.id,
                    "role": a.role,
                    "display_name": a.display_name,
                    "vars": dict(a.vars),
                }
                for a in self.actors.values()
            ],
            "resources": [
                {"kind": r.kind, "owner": r.owner, "index": r.index, "vars": dict(r.vars)}
                for r in self.resources
            ],
            "ownership": self.ownership.to_json(),
            "profile": dict(self.profile),
            "heavy": list(self.heavy),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> World:
        try:
            actors = {
                str(a["id"]): Actor(
                    id=str(a["id"]),
                    role=str(a["role"]),
                    display_name=str(a.get("display_name", "")),
                    vars=dict(a.get("vars", {})),
                )
                for a in data["actors"]
            }
            resources = tuple(
                Resource(str(r["kind"]), str(r["owner"]), int(r["index"]), dict(r["vars"]))
                for r in data.get("resources", [])
            )
            return cls(
                target=str(data["target"]),
                seed=int(data["seed"]),
                actors=actors,
                ownership=OwnershipModel.from_json(data["ownership"]),
                resources=resources,
                profile=dict(data.get("profile", {})),
                tag=str(data.get("tag", "")),
                heavy=tuple(str(h) for h in data.get("heavy", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"world file is malformed ({exc!r})", "use the world.json a run wrote"
            ) from exc

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> World:
        try:
            data = read_bounded(path, "world file", MAX_DATA_BYTES)
            return cls.from_json(json.loads(data))
        except (OSError, ValueError, RecursionError) as exc:
            raise ConfigError(
                f"cannot read world file {path}: {exc}", "use the world.json a run wrote"
            ) from exc


def without_userinfo(url: str) -> str:
    """The URL with any user:password@ removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
