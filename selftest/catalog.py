"""The planted-fault catalog as the selftest reads it: each fault's description and where it
shows. It is data the target hands over (the clinic's `clinic.faults.catalog()`, printed by
`chaperone clinic faults --json`), validated here, so no fault name is written in this
package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shows(_Strict):
    """Where one planted fault shows: what a run needs to catch it, and nothing more.

    `scenarios` empty means every switch scenario; `population` empty means the catalog's.
    `fuzz` marks a fault that shows in single requests: it also gets a fuzz-only run.
    `browser` marks one the browser suite can see (`--browser` adds it).
    `media` real: it lives in real calls' media, so its runs pass `--media real`.
    `heavy` false: its run needs no heavy owner (`--population heavy=0`), whose long lists
    the clean runs and the depth faults walk, and whose looks and access groups only add time
    to a run about something else (a real-calls run always leaves them out)."""

    suites: tuple[str, ...] = ("switch", "access")
    scenarios: tuple[str, ...] = ()
    population: dict[str, int] = Field(default_factory=dict)
    extra_seeds: int = Field(0, ge=0)
    fuzz: bool = False
    browser: bool = False
    media: Literal["header", "real"] = "header"
    heavy: bool = True


class Fault(_Strict):
    description: str = ""
    # A fault the catalog says nothing more of runs switch and access with every scenario.
    shows: Shows = Shows()


class FaultCatalog(_Strict):
    faults: dict[str, Fault] = Field(min_length=1)
    quick: tuple[str, ...] = ()  # the faults of `--quick`
    # The `chaperone run` options that size every run's world, e.g. {"patients": 3}.
    population: dict[str, int] = Field(default_factory=dict)
    # The switch scenarios a fuzz-only run drives first, so there is owned data to request.
    warm_up: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _quick_faults_exist(self) -> FaultCatalog:
        unknown = [name for name in self.quick if name not in self.faults]
        if unknown:
            raise ValueError(f"quick names faults the catalog lacks: {', '.join(unknown)}")
        return self

    def shows(self, fault: str) -> Shows:
        entry = self.faults.get(fault)
        return entry.shows if entry is not None else Shows()

    def population_of(self, shows: Shows) -> tuple[tuple[str, int], ...]:
        return tuple({**self.population, **shows.population}.items())


def read_catalog(data: Mapping[str, Any]) -> FaultCatalog:
    """The catalog from its JSON data; a malformed one is a config error, in one line."""
    try:
        return FaultCatalog.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "catalog"
        raise ConfigError(
            f"fault catalog: {where}: {error['msg']}", "see `chaperone clinic faults --json`"
        ) from None
