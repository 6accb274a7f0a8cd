"""The load suite on an app it was not built around: VAmPI, driven only by its profile
(examples/targets/vampi.yaml), started for real on 127.0.0.1 (tests/services/vampi.py).

Proven both ways on the books BOLA: with `vulnerable=1` a load user who opens another user's
book title gets that user's secret, which the leak check catches; with `vulnerable=0` the same
reads are denied (404) and nothing is found on that route. `GET /users/v1/_debug` hands every
user's password to anyone in both modes, so it is found in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import engine
from harness.config import RunOptions, SloThresholds
from harness.events import CoverageReported, EngineError, Event, FindingRaised, SuiteFinished
from harness.models import Finding, Verdict
from harness.profile import load_profile
from load.suite import run_load
from tests.services.vampi import PROFILE, Vampi, vampi

pytestmark = pytest.mark.integration

BOOK = "GET /books/v1/{book_title}"
DEBUG = "GET /users/v1/_debug"
WIDE_SLO = SloThresholds(max_error_rate=0.01, min_rps=2)


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vampi]:
    with vampi(tmp_path_factory.mktemp("vampi-1"), vulnerable=True) as app:
        yield app


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vampi]:
    with vampi(tmp_path_factory.mktemp("vampi-0"), vulnerable=False) as app:
        yield app


@pytest.fixture(autouse=True)
def load_suite_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "load_suite", lambda name: run_load)


def run(app: Vampi, out: Path) -> list[Event]:
    options = RunOptions(
        suites=("load",), population={"user": 4}, load_users=8, load_seconds=10, slo=WIDE_SLO
    )
    request = engine.RunRequest(
        target=app.url, options=options, out_dir=out, profile=load_profile(PROFILE)
    )
    return list(engine.run(request))


def findings(events: list[Event], route: str) -> list[Finding]:
    return [
        e.finding
        for e in events
        if isinstance(e, FindingRaised) and e.finding.surface.where.startswith(route)
    ]


def checked(events: list[Event], route: str, *, foreign: bool = False) -> tuple[int, int]:
    """Reads of `route` checked and lost (only those about another user's data: `foreign`)."""
    [coverage] = [e for e in events if isinstance(e, CoverageReported)]
    rows = [r for r in coverage.rows if r.route == route and (r.owner != r.observer or not foreign)]
    return sum(r.checked for r in rows), sum(r.lost for r in rows)


def test_vulnerable_vampi_leaks_other_users_books_under_load(
    vulnerable: Vampi, tmp_path: Path
) -> None:
    events = run(vulnerable, tmp_path)
    assert [e.message for e in events if isinstance(e, EngineError)] == []
    bola = findings(events, BOOK)
    assert bola, "the BOLA was not caught"
    assert all(f.owner != f.observer for f in bola)
    assert {f.canary_kind for f in bola} == {"note"}  # the book's secret
    debug = findings(events, DEBUG)
    assert {f.canary_kind for f in debug} >= {"password"}
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    assert done.verdict is Verdict.FAIL
    assert checked(events, BOOK)[0] > 0


def test_fixed_vampi_denies_the_books_and_still_leaks_debug(fixed: Vampi, tmp_path: Path) -> None:
    events = run(fixed, tmp_path)
    assert [e.message for e in events if isinstance(e, EngineError)] == []
    assert findings(events, BOOK) == []
    assert {f.canary_kind for f in findings(events, DEBUG)} >= {"password"}
    # The other users' books were really asked for and denied: checked, not lost, not errors.
    reads, lost = checked(events, BOOK, foreign=True)
    assert reads > 0 and lost == 0
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    assert done.metrics["fail_rate"] == 0.0, done.message
