"""The engine seeds only when it must: a suite that left the target reset (stateful) gets the
run's world put back before a later suite needs it, and not at all when none follows; a suite
asking for a fresh seeding (load, browser) takes the current one when nothing has used it yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import Event, RunFinished, SuiteFinished, SuiteStarted, WorldSeeded
from harness.models import Verdict
from harness.suites import RunContext, load_suite
from harness.world import World
from tests.unit.inprocess import BASE, TOKEN, transport


class Counting(httpx.AsyncBaseTransport):
    """The in-process clinic, counting the target resets (each seeding starts with one)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.resets = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/_support/reset":
            self.resets += 1
        return await self.inner.handle_async_request(request)


class Suites:
    """Fake suites: `spoils` resets the target as stateful's examples do, `reads` notes the
    world it was given, `fresh` asks for a fresh seeding as load and browser do."""

    def __init__(self, counting: Counting) -> None:
        self.counting = counting
        self.seen: dict[str, tuple[World, int]] = {}  # suite -> (its world, resets so far)
        self.holds: dict[str, bool] = {}  # suite -> its world's users could log in

    async def _holds(self, world: World) -> bool:
        """The target holds `world`: each of its users can log in."""
        async with httpx.AsyncClient(transport=self.counting, base_url=BASE) as client:
            for actor in world.actors.values():
                if actor.is_anonymous:
                    continue
                body = {"username": actor.vars["username"], "password": actor.vars["password"]}
                if (await client.post("/api/login", json=body)).status_code != 200:
                    return False
        return True

    def __call__(self, name: str):  # type: ignore[no-untyped-def]
        if name not in ("spoils", "reads", "fresh"):
            return load_suite(name)

        def suite(ctx: RunContext) -> Iterator[Event]:
            yield SuiteStarted(name, None, 0.0)
            if name == "spoils":

                async def reset() -> None:
                    async with httpx.AsyncClient(transport=self.counting, base_url=BASE) as c:
                        headers = {"X-Support-Token": TOKEN}
                        (await c.post("/_support/reset", headers=headers)).raise_for_status()

                ctx.loop.run(reset())
                ctx.target_reset()
            world = ctx.reseed() if name == "fresh" else ctx.world
            self.seen[name] = (world, self.counting.resets)
            self.holds[name] = ctx.loop.run(self._holds(world))
            yield SuiteFinished(name, Verdict.PASS, 0.0, 0.0)

        return suite


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *suites: str, **options: object
) -> tuple[list[Event], Suites, Counting]:
    (tmp_path / "clinic").mkdir(parents=True)
    counting = Counting(transport(tmp_path / "clinic"))
    fakes = Suites(counting)
    monkeypatch.setattr("harness.engine.load_suite", fakes)
    run_options = RunOptions(suites=suites, population={"patient": 2, "clinician": 1}, **options)  # type: ignore[arg-type]
    request = RunRequest(BASE, run_options, tmp_path / "out", TOKEN, transport=counting)
    events = list(run(request))
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.PASS, events
    return events, fakes, counting


def _seedings(events: list[Event]) -> int:
    return sum(isinstance(e, WorldSeeded) for e in events)


def test_after_a_suite_that_reset_the_target_the_next_one_gets_the_world_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, fakes, counting = _run(tmp_path, monkeypatch, "spoils", "reads")
    # initial seeding, the suite's own reset, the engine's seeding before `reads`
    assert fakes.seen["reads"][1] == 3 and counting.resets == 3
    assert _seedings(events) == 2
    assert fakes.holds["reads"]  # the target holds the world `reads` was given


def test_no_seeding_after_the_last_suite_reset_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, _, counting = _run(tmp_path, monkeypatch, "reads", "spoils")
    assert counting.resets == 2 and _seedings(events) == 1


def test_a_suite_asking_for_a_fresh_seeding_reuses_one_nothing_has_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fakes, counting = _run(tmp_path, monkeypatch, "fresh")
    assert counting.resets == 1  # the engine's first seeding only
    assert fakes.holds["fresh"]
    _, fakes, counting = _run(tmp_path / "again", monkeypatch, "spoils", "fresh")
    assert counting.resets == 3  # first seeding, the suite's reset, one seeding for `fresh`
    assert fakes.holds["fresh"]


def test_a_suite_asking_for_a_fresh_seeding_after_another_suite_gets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fakes, counting = _run(tmp_path, monkeypatch, "reads", "fresh")
    assert counting.resets == 2
    assert fakes.seen["fresh"][0] is not fakes.seen["reads"][0]


def test_each_extra_seed_is_seeded_even_when_nothing_used_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`switch` and `access` are the suites repeated per seed; with neither asked, the extra
    seeds still each get their seeding (a new seed is never 'fresh' from an old one)."""
    events, _, counting = _run(tmp_path, monkeypatch, "fresh", extra_seeds=(1, 2))
    assert counting.resets == 3 and _seedings(events) == 3


def test_the_real_stateful_suite_leaves_the_reseeding_to_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, fakes, counting = _run(tmp_path, monkeypatch, "stateful", "reads", stateful_examples=2)
    before_reads = fakes.seen["reads"][1]
    assert counting.resets == before_reads  # nothing after `reads`
    assert _seedings(events) == 2  # the first, and one before `reads`: not one more
    assert fakes.holds["reads"]
