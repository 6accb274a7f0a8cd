"""The oracle registry: plain functions under a name, plus third-party ones from entry points.

An oracle looks at one Observation and yields Findings. Teams add their own without touching
Chaperone by exposing a function in the `chaperone.oracles` entry-point group:

    [project.entry-points."chaperone.oracles"]
    no-ssn-in-logs = "mychecks:no_ssn_in_logs"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from harness.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from harness.models import Finding, Observation
    from harness.oracles.context import OracleContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "OracleFn",
    "load_entry_point_oracles",
    "oracle",
    "registered_oracles",
]

ENTRY_POINT_GROUP = "chaperone.oracles"

OracleFn = Callable[["Observation", "OracleContext"], Iterable["Finding"]]

_REGISTRY: dict[str, OracleFn] = {}


def oracle(name: str) -> Callable[[OracleFn], OracleFn]:
    """Register `fn` under `name`. Registering a different function twice is a mistake."""

    def register(fn: OracleFn) -> OracleFn:
        _register(name, fn)
        return fn

    return register


def registered_oracles() -> dict[str, OracleFn]:
    """A copy: callers may filter it without changing what is registered."""
    return dict(_REGISTRY)


def unregister(name: str) -> None:
    """For tests that register throwaway oracles."""
    _REGISTRY.pop(name, None)


def load_entry_point_oracles() -> list[str]:
    """Import every oracle in the `chaperone.oracles` group; returns the names loaded."""
    loaded = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            fn = entry.load()
        except Exception as exc:
            raise ConfigError(
                f"oracle plugin {entry.name!r} ({entry.value}) failed to import: {exc}",
                "fix or uninstall the package that provides it",
            ) from exc
        if not callable(fn):
            raise ConfigError(
                f"oracle plugin {entry.name!r} ({entry.value}) is not a function",
                "point the entry point at `def check(obs, ctx) -> Iterable[Finding]`",
            )
        _register(entry.name, fn)
        loaded.append(entry.name)
    return loaded


def _register(name: str, fn: OracleFn) -> None:
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not fn and _qualname(existing) != _qualname(fn):
        raise UsageError(
            f"two oracles are named {name!r} ({_qualname(existing)} and {_qualname(fn)})",
            "rename one of them",
        )
    _REGISTRY[name] = fn


def _qualname(fn: OracleFn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
