"""Suites plug into the engine through one tiny interface.

A suite is a callable `suite(ctx) -> Iterator[Event]`. It drives the target, has every
observation judged with `ctx.judge`, and yields events; it never prints. Suites are found through
the entry-point group `chaperone.suites` (the built-in ones are registered in pyproject.toml), so
a team can ship its own suite as a package.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, TypeVar

from harness.adapters import Target
from harness.adapters.capabilities import Capability
from harness.aio import LoopThread
from harness.cancel import CancelScope
from harness.config import RunOptions
from harness.errors import UsageError
from harness.events import Event
from harness.models import Finding, Observation
from harness.sinks import Sinks
from harness.world import World

C = TypeVar("C")
SUITE_GROUP = "chaperone.suites"
DEFAULT_SUITES = ("switch", "access", "stateful")


@dataclass
class RunContext:
    target: str
    world: World
    options: RunOptions
    out_dir: Path
    judge: Callable[[Observation], list[Finding]]
    adapter: Target
    loop: LoopThread
    support_token: str = ""
    # The suite's own cancel scope while it runs (a child of the run's): its deadline, the
    # user's Ctrl-C or a lost target. Work stops with `Cancelled(reason)` (harness.cancel).
    cancel: CancelScope = field(default_factory=CancelScope)
    # Observations recorded by earlier suites, replayed by the access matrix.
    journal: list[Observation] = field(default_factory=list)
    # A fresh seeding from the run's seed: resets the target and seeds a new population,
    # updating `world` and `judge` in place, unless the current seeding is one no suite has
    # used yet (`seeding`), which it returns as it is. Suites that need unused calls (load,
    # browser) call it first; a suite that resets the target itself calls `target_reset`.
    reseed: Callable[[], World] = field(default=lambda: _no_reseed())
    # The SMTP / SMS sinks the target's notifications arrive at (None: the profile has none).
    sinks: Sinks | None = None
    # When two suites run at once on one seeding (the engine's TOGETHER), the first says whose
    # data it drives with `claim`, and the second is started after that with those users
    # `reserved`: it may read as them but leaves their resources alone.
    claim: Callable[[Iterable[str]], None] = field(default=lambda users: None)
    reserved: frozenset[str] = frozenset()
    # Shared by the copies the engine hands to suites run side by side.
    seeding: Seeding = field(default_factory=lambda: Seeding())

    def capability(self, kind: Capability[C]) -> C | None:
        """The target typed as one of its optional capabilities (harness.adapters.capabilities),
        or None when it does not have it: suites ask for what they need by name."""
        return kind.of(self.adapter)

    def target_reset(self) -> None:
        """Say that this suite reset the target and left other data there (stateful's
        examples): the engine seeds the run's world again before a later suite needs it,
        instead of the suite doing it on its way out for nobody."""
        self.seeding.stale = True


@dataclass
class Seeding:
    """What the engine knows about the target's data, to seed only when it must."""

    # Nothing has run on the current seeding yet: a suite asking for a fresh one (load,
    # browser) can have it as it is, with no reset.
    pristine: bool = True
    # The target no longer holds `RunContext.world`: a suite reset it for its own data.
    stale: bool = False


def _no_reseed() -> World:
    raise RuntimeError("this RunContext was built without a reseed function")


class Suite(Protocol):
    def __call__(self, ctx: RunContext) -> Iterator[Event]: ...


def available_suites() -> dict[str, Callable[[], Suite]]:
    """Name -> loader. Loading is lazy so that `--help` never imports Playwright."""
    found: dict[str, Callable[[], Suite]] = {}
    for ep in entry_points(group=SUITE_GROUP):
        found[ep.name] = ep.load
    return found


def check_suite_names(names: Iterable[str]) -> None:
    """Refuse an unknown suite name with a suggestion, before anything runs."""
    suites = available_suites()
    for name in names:
        if name not in suites:
            close = difflib.get_close_matches(name, suites, n=1)
            choices = ", ".join(sorted(suites))
            hint = f"did you mean '{close[0]}'?" if close else f"choose from {choices}"
            raise UsageError(f"unknown suite '{name}'", hint)


def load_suite(name: str) -> Suite:
    check_suite_names([name])
    suite: Suite = available_suites()[name]()
    return suite
