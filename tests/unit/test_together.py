"""Load beside browser: the engine runs a TOGETHER pair at once on one seeding; the first
claims its users before the second starts, which leaves them alone; each suite's reads count
under its own label; a failure in one still fails the run closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import RunOptions
from harness.engine import schedule
from harness.events import (
    CoverageReported,
    EngineError,
    Event,
    RunFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Verdict
from harness.population import counts_for, owner_count
from harness.profile import load_profile
from harness.suites import RunContext
from tests.unit.inprocess import run_inprocess

GATE = ("switch", "access", "stateful", "load", "browser")


@pytest.mark.parametrize(
    ("changes", "steps"),
    [
        ({}, [("switch",), ("access",), ("stateful",), ("browser", "load")]),
        ({"overlap": False}, [("switch",), ("access",), ("stateful",), ("load",), ("browser",)]),
        # The demo's four patients: three are the browser's, too few left for the load's journeys.
        (
            {"population": {"patient": 4, "clinician": 4}},
            [("switch",), ("access",), ("stateful",), ("load",), ("browser",)],
        ),
        ({"suites": ("browser", "switch", "load")}, [("browser", "load"), ("switch",)]),
        ({"suites": ("load", "switch")}, [("load",), ("switch",)]),
    ],
)
def test_the_schedule_pairs_load_with_browser_when_there_is_room(
    changes: dict[str, object], steps: list[tuple[str, ...]]
) -> None:
    options = RunOptions(
        **{"suites": GATE, "population": {"patient": 20, "clinician": 4}, **changes}
    )
    clinic = load_profile("clinic").profile
    owners = owner_count(clinic, counts_for(clinic, options.population))
    assert schedule(options, owners) == steps


class Pair:
    """Fake browser and load suites that can only both finish if they run at the same time."""

    def __init__(self, load_fails: bool = False) -> None:
        self.load_fails = load_fails
        self.both_running = threading.Barrier(2, timeout=10)
        self.worlds: dict[str, object] = {}
        self.reserved: dict[str, frozenset[str]] = {}
        self.claimed: list[str] = []

    def suite(self, name: str):  # type: ignore[no-untyped-def]
        def run(ctx: RunContext) -> Iterator[Event]:
            yield SuiteStarted(name, None, 0.0)
            world = ctx.reseed()
            self.worlds[name] = world
            if name == "browser":
                owners = sorted(r.owner for r in world.resources)[:1]
                self.claimed = owners
                ctx.claim(owners)
            self.reserved[name] = ctx.reserved
            self.both_running.wait()  # raises BrokenBarrierError when run one after the other
            # While both run: a read counted from the suite's thread, and one from a coroutine
            # on the run's loop, each under its own suite's label.
            ctx.adapter.coverage.checked(f"GET /{name}", "someone", "someone")

            async def read() -> None:
                ctx.adapter.coverage.checked(f"GET /{name}/async", "someone", "someone")

            ctx.loop.run(read())
            if name == "load" and self.load_fails:
                raise ValueError("locust fell over")
            yield SuiteFinished(name, Verdict.PASS, 0.0, 0.0)

        return run


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pair: Pair) -> list[Event]:
    monkeypatch.setattr("harness.engine.load_suite", pair.suite)
    options = RunOptions(suites=("load", "browser"), population={"patient": 10, "clinician": 2})
    return run_inprocess(tmp_path, options)


def test_the_pair_runs_at_once_on_one_seeding_and_the_load_leaves_the_claimed_users_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = Pair()
    events = _run(tmp_path, monkeypatch, pair)
    finished = {e.suite: e.verdict for e in events if isinstance(e, SuiteFinished)}
    assert finished == {"browser": Verdict.PASS, "load": Verdict.PASS}
    assert isinstance(events[-1], RunFinished) and events[-1].verdict is Verdict.PASS
    assert pair.worlds["browser"] is pair.worlds["load"]  # one seeding for both
    assert pair.claimed and pair.reserved["load"] == frozenset(pair.claimed)
    assert pair.reserved["browser"] == frozenset()
    rows = {(r.suite, r.route) for e in events if isinstance(e, CoverageReported) for r in e.rows}
    for name in ("browser", "load"):
        assert (name, f"GET /{name}") in rows and (name, f"GET /{name}/async") in rows


def test_a_failure_in_one_of_the_pair_fails_the_run_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _run(tmp_path, monkeypatch, Pair(load_fails=True))
    finished = {e.suite: e.verdict for e in events if isinstance(e, SuiteFinished)}
    assert finished == {"browser": Verdict.PASS, "load": Verdict.ERROR}
    assert any(isinstance(e, EngineError) and "locust fell over" in e.message for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].verdict is Verdict.ERROR


def test_without_overlap_the_suites_run_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The barrier above is what proves the pair ran at once: one after the other, it breaks."""
    pair = Pair()
    pair.both_running = threading.Barrier(2, timeout=0.5)
    monkeypatch.setattr("harness.engine.load_suite", pair.suite)
    options = RunOptions(
        suites=("load", "browser"), population={"patient": 10, "clinician": 2}, overlap=False
    )
    events = run_inprocess(tmp_path, options)
    finished = {e.suite: e.verdict for e in events if isinstance(e, SuiteFinished)}
    assert finished == {"load": Verdict.ERROR, "browser": Verdict.ERROR}
    assert pair.worlds["browser"] is not pair.worlds["load"]  # each reseeded for itself


def test_a_thread_a_suite_starts_counts_its_reads_under_the_suites_label(tmp_path: Path) -> None:
    """The coverage label lives in the context (for suites side by side); the stateful suite
    explores in a thread of its own, which must carry the label along."""
    options = RunOptions(
        suites=("stateful",), population={"patient": 2, "clinician": 1}, stateful_examples=2
    )
    events = run_inprocess(tmp_path, options)
    rows = [r for e in events if isinstance(e, CoverageReported) for r in e.rows]
    assert rows and {r.suite for r in rows} == {"stateful"}
    assert sum(r.checked for r in rows) > 0
