"""The targeted plan: which `chaperone run`s a selftest makes.

Each planted fault gets the suites, switch scenarios and population it shows under (from the
catalog), so each run is short; a fault that shows in single requests also gets a fuzz-only
run, for the matrix's fuzz column. The clean build runs switch and access with every scenario
over many seeds, and every other suite the plan uses once (the first seed), so each suite that
is credited with a detection is also shown silent on the clean build. Consecutive clean seeds
share one run (`CLEAN_GROUP` of them, `--extra-seeds`): each seed is seeded afresh and its
suites are labelled with it, so every seed is still scored on its own, and the group pays a
harness's and a clinic's start-up once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selftest.catalog import FaultCatalog

SUITE_ORDER = ("switch", "access", "stateful", "load", "fuzz", "browser")
CLEAN_SUITES = ("switch", "access")  # every clean seed, with every scenario
DEFAULT_CLEAN_SEEDS = 20
# Clean seeds per `chaperone run`. A run's start-up (a harness and a clinic) costs about 4.5
# CPU-s against some 25 for a seed's switch and access, and a group of four still leaves runs
# short enough for two jobs to end together.
CLEAN_GROUP = 4
FUZZ_EXAMPLES = 5
# Bounded by time, not by phase: the examples pass (each actor in turn sending every planted
# id) comes first, and the first actors' passes already reach other owners' data.
FUZZ_SECONDS = 30.0
LOAD_SECONDS = 8.0

Population = tuple[tuple[str, int], ...]  # (`chaperone run` option, count)


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One `chaperone run`: a fault's targeted run (part "main"), its fuzz-only run ("fuzz"),
    or a clean run ("main" for switch and access, or one more suite on the first seed)."""

    kind: str  # "fault" or "clean"
    name: str  # the fault, or "seed-N"
    faults: tuple[str, ...]
    suites: tuple[str, ...]
    seed: int
    part: str = "main"
    scenarios: tuple[str, ...] = ()  # empty: every scenario
    population: Population = ()
    extra_seeds: int = 0
    media: str = "header"  # `--media`: real for faults in real calls' media
    heavy: bool = True  # False: the catalog says the fault's run needs no heavy owner

    @property
    def directory(self) -> str:
        return f"{'faults' if self.kind == 'fault' else 'clean'}/{self.name}/{self.part}"

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds the run covers: its own, then `--extra-seeds` more, consecutively."""
        return tuple(range(self.seed, self.seed + self.extra_seeds + 1))

    @property
    def label(self) -> str:
        if self.kind == "fault":
            what = f"fault {self.name}"
        elif self.extra_seeds:
            what = f"clean seeds {self.seed}-{self.seeds[-1]}"
        else:
            what = f"clean seed {self.seed}"
        media = " with real calls" if self.media == "real" else ""
        return f"{what}, {'+'.join(self.suites)}{media}"

    def arguments(self, out: Path) -> list[str]:
        """The `chaperone run` arguments that carry this run out, writing into `out`."""
        args = [f"--suite={suite}" for suite in self.suites]
        args += [f"--scenario={name}" for name in self.scenarios]
        if self.faults:
            args.append(f"--faults={','.join(self.faults)}")
        args += [f"--{option}={count}" for option, count in self.population]
        args += [f"--seed={self.seed}", f"--extra-seeds={self.extra_seeds}"]
        if self.media != "header":
            args.append(f"--media={self.media}")
        if "load" in self.suites:
            args.append(f"--load-seconds={LOAD_SECONDS:g}")
        if "stateful" in self.suites:
            # A selftest asks whether each fault is caught, not for its minimal reproduction:
            # shrinking it took 30 s of each such run (tests/integration/test_stateful_shrink.py
            # proves the shrinking).
            args.append("--shrink-seconds=0")
        if "fuzz" in self.suites:
            args += [f"--fuzz-examples={FUZZ_EXAMPLES}", f"--fuzz-seconds={FUZZ_SECONDS:g}"]
        if not self.heavy_owners:
            args.append("--population=heavy=0")
        return [*args, f"--build=selftest-{self.name}-{self.part}", f"--out={out}"]

    @property
    def heavy_owners(self) -> bool:
        """Whether the run's world has heavy owners. Not when the catalog says the fault needs
        none; never in a fuzz-only run, which sends single requests at the smallest
        population within FUZZ_SECONDS, warm-up included (a heavy owner's long lists, walked
        by its look, are the switch and access runs' to read, and left it no time to fuzz);
        never with real calls: a media fault lives in calls, not in long lists, and a heavy
        owner's calls and pages only lengthen the run. (Its recordings made in the run would
        be read and decoded all the same: `Looks` reads every item first listed after a
        user's first look, and samples only the seeded bulk.)"""
        return self.heavy and self.suites != ("fuzz",) and self.media != "real"

    def cost(self) -> float:
        """A rough estimate of the run's seconds, so the longest start first and the parallel
        runs end together. Only the order depends on it, never a result."""
        scenarios = len(self.scenarios) or 11
        actors = sum(count for _, count in self.population) / 5
        per_seed = {
            "switch": 2.5 * scenarios * actors,
            "access": 3.0 * actors * actors,
            "stateful": 10.0,
            "load": LOAD_SECONDS + 10.0,
            "fuzz": FUZZ_SECONDS + 10.0,
            "browser": 60.0,
        }
        seeds = 1 + self.extra_seeds
        return 8.0 + seeds * sum(per_seed.get(s, 30.0) for s in self.suites)


class SelftestPlan(BaseModel):
    """What a selftest runs: `faults` from the `catalog`, which says how each is run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: FaultCatalog
    faults: tuple[str, ...]
    clean_seeds: tuple[int, ...] = Field(tuple(range(DEFAULT_CLEAN_SEEDS)), min_length=1)
    quick: bool = False
    browser: bool = False

    @model_validator(mode="after")
    def _faults_in_catalog(self) -> SelftestPlan:
        unknown = [name for name in self.faults if name not in self.catalog.faults]
        if unknown:
            raise ValueError(f"faults not in the catalog: {', '.join(unknown)}")
        return self

    def runs(self) -> list[PlannedRun]:
        planned = [run for fault in self.faults for run in self._fault_runs(fault)]
        planned += self._clean_runs(ordered(s for r in planned for s in r.suites))
        if any(run.media == "real" for run in planned):
            planned.append(self._clean_media_run())
        return planned

    def scenario_names(self) -> set[str]:
        """Every switch scenario the plan names, to be checked before anything runs."""
        return {name for run in self.runs() for name in run.scenarios}

    def _fault_runs(self, fault: str) -> list[PlannedRun]:
        shows = self.catalog.shows(fault)
        extra = ("browser",) if self.browser and shows.browser else ()
        main = PlannedRun(
            "fault",
            fault,
            (fault,),
            (*shows.suites, *extra),
            0,
            scenarios=shows.scenarios,
            population=self.catalog.population_of(shows),
            extra_seeds=shows.extra_seeds,
            media=shows.media,
            heavy=shows.heavy,
        )
        if not shows.fuzz:
            return [main]
        # The fuzz suite alone, at the smallest population: one warm-up call per owner.
        fuzz = replace(
            main,
            suites=("fuzz",),
            part="fuzz",
            scenarios=self.catalog.warm_up,
            population=tuple(self.catalog.population.items()),
            extra_seeds=0,
            media="header",
        )
        return [main, fuzz]

    def _clean_media_run(self) -> PlannedRun:
        """The switch suite's every scenario with real calls on the clean clinic, first seed:
        what a media fault's run is scored against."""
        population = tuple(self.catalog.population.items())
        first = self.clean_seeds[0]
        return PlannedRun(
            "clean",
            f"seed-{first}",
            (),
            ("switch",),
            first,
            "media",
            population=population,
            media="real",
        )

    def _clean_runs(self, used: Sequence[str]) -> list[PlannedRun]:
        """Switch and access with every scenario for each seed, `CLEAN_GROUP` consecutive
        seeds to a run; on the first seed, every other suite the fault runs used, so that each
        is shown silent on the clean build (load and fuzz alone, as the faults' runs have
        them). `chaperone run` repeats only switch and access under its extra seeds, so a
        suite run once stays on the first seed."""
        first = self.clean_seeds[0]
        population = tuple(self.catalog.population.items())
        once: tuple[str, ...] = ("stateful",) if "stateful" in used else ()
        once += ("browser",) if self.browser else ()
        runs = []
        for group in seed_groups(self.clean_seeds, CLEAN_GROUP):
            name = f"seed-{group[0]}" if len(group) == 1 else f"seeds-{group[0]}-{group[-1]}"
            suites = CLEAN_SUITES + (once if group[0] == first else ())
            runs.append(
                PlannedRun(
                    "clean",
                    name,
                    (),
                    suites,
                    group[0],
                    population=population,
                    extra_seeds=len(group) - 1,
                )
            )
        for alone in ("load", "fuzz"):
            if alone in used:
                scenarios = self.catalog.warm_up if alone == "fuzz" else ()
                runs.append(
                    PlannedRun(
                        "clean",
                        f"seed-{first}",
                        (),
                        (alone,),
                        first,
                        alone,
                        scenarios,
                        population,
                    )
                )
        return runs


def seed_groups(seeds: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Runs of consecutive seeds, each at most `size` long, in the given order: one run's
    `--seed` and `--extra-seeds` can only name consecutive seeds."""
    groups: list[list[int]] = []
    for seed in seeds:
        if groups and len(groups[-1]) < size and seed == groups[-1][-1] + 1:
            groups[-1].append(seed)
        else:
            groups.append([seed])
    return [tuple(group) for group in groups]


def ordered(names: Iterable[str]) -> list[str]:
    """Suite names in the usual order (unknown ones last, by name), each once."""
    rank = {name: i for i, name in enumerate(SUITE_ORDER)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))
