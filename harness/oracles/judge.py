"""The Judge runs every chosen oracle over each observation and collects the findings."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

from harness.coverage import Coverage
from harness.errors import UsageError
from harness.models import Finding, Observation
from harness.oracles import builtin as _builtin  # noqa: F401  (registers the built-ins)
from harness.oracles import media_code as _media_code  # noqa: F401  (decodes lazily)
from harness.oracles.context import ListingParser, OracleContext
from harness.oracles.registry import OracleFn, load_entry_point_oracles, registered_oracles
from harness.world import World

__all__ = ["Judge"]


class Judge:
    """`Judge(ctx)(obs)` is every finding the chosen oracles raise for `obs`."""

    def __init__(self, ctx: OracleContext, names: Iterable[str] | None = None) -> None:
        self.ctx = ctx
        self.oracles: dict[str, OracleFn] = _select(registered_oracles(), names)

    @classmethod
    def from_world(
        cls,
        world: World,
        listing: ListingParser | None = None,
        names: Iterable[str] | None = None,
        *,
        plugins: bool = True,
        coverage: Coverage | None = None,
    ) -> Judge:
        if plugins:
            load_entry_point_oracles()
        return cls(OracleContext.for_world(world, listing, coverage), names)

    def __call__(self, obs: Observation) -> list[Finding]:
        return self.judge(obs)

    def judge(self, obs: Observation) -> list[Finding]:
        return [finding for fn in self.oracles.values() for finding in fn(obs, self.ctx)]


def _select(available: dict[str, OracleFn], names: Iterable[str] | None) -> dict[str, OracleFn]:
    if names is None:
        return available
    chosen = {}
    for name in names:
        if name not in available:
            raise UsageError(f"unknown oracle {name!r}", _suggest(name, available))
        chosen[name] = available[name]
    return chosen


def _suggest(name: str, available: dict[str, OracleFn]) -> str:
    close = get_close_matches(name, available, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known oracles: {', '.join(sorted(available))}"
