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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.models import Canary, CanaryKind

CANARY_PREFIX = "zq"
CANARY_LENGTH = 12
_ALPHABET = string.ascii_lowercase + string.digits


def make_canary(rng: random.Random) -> str:
    """A fresh canary; reproducible from the run's seeded RNG."""
    return CANARY_PREFIX + "".join(rng.choice(_ALPHABET) for _ in range(CANARY_LENGTH - 2))


@dataclass(frozen=True, slots=True)
class OwnershipModel:
    """Every canary with its owner, and for each owner the observers allowed to see it.

    The owner may always see their own data. `visibility[owner]` lists the others (the
    clinicians assigned to that patient).
    """

    canaries: tuple[Canary, ...]
    visibility: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def may_see(self, observer: str, owner: str) -> bool:
        return observer == owner or observer in self.visibility.get(owner, frozenset())

    def owners(self) -> frozenset[str]:
        return frozenset(c.owner for c in self.canaries)

    def for_owner(self, owner: str) -> tuple[Canary, ...]:
        return tuple(c for c in self.canaries if c.owner == owner)

    def to_json(self) -> dict[str, Any]:
        return {
            "canaries": [
                {"value": c.value, "owner": c.owner, "kind": str(c.kind), "label": c.label}
                for c in self.canaries
            ],
            "visibility": {k: sorted(v) for k, v in sorted(self.visibility.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OwnershipModel:
        try:
            canaries = tuple(
                Canary(
                    value=str(c["value"]),
                    owner=str(c["owner"]),
                    kind=CanaryKind(c["kind"]),
                    label=str(c.get("label", "")),
                )
                for c in data["canaries"]
            )
            visibility = {str(k): frozenset(map(str, v)) for k, v in data["visibility"].items()}
        except (KeyError, TypeError, ValueError) as exc:
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"cannot read ownership model {path}: {exc}",
                "pass the canaries.json that the run wrote",
            ) from exc
        return cls.from_json(data)

    @classmethod
    def build(
        cls, canaries: Iterable[Canary], visibility: Mapping[str, Iterable[str]]
    ) -> OwnershipModel:
        return cls(
            canaries=tuple(canaries),
            visibility={owner: frozenset(obs) for owner, obs in visibility.items()},
        )
