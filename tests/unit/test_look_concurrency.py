"""A look's reads run side by side, within bounds, and what they teach is learnt in the reads'
order, so which items a user's `each` reads visit, and in what order, does not depend on which
answer came back first. Against FakeApp behind an async transport that holds answers back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from typing import Any

import httpx

from harness.adapters.looks import EACH_CONCURRENCY
from harness.adapters.profile import ProfileTarget
from harness.models import Observation
from harness.population import Counts, make_population
from tests.unit.fakeapp import FakeApp, profile

BASE = "http://fake.test"
HOLD_SECONDS = 2.0  # long enough that a look run one read at a time shows


class Held(httpx.AsyncBaseTransport):
    """FakeApp's answers, given asynchronously. Counts requests in flight per kind, and holds
    the answer to `hold` until `until` has been answered (or HOLD_SECONDS pass)."""

    def __init__(self, app: FakeApp, hold: str = "", until: str = "", pause: float = 0.0):
        self.app, self.hold, self.until, self.pause = app, hold, until, pause
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.answered: list[str] = []
        self._released: asyncio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        key = request.url.path + (f"?{query}" if query else "")
        kind = "item" if request.url.path.startswith("/notes/") else request.url.path
        self.in_flight[kind] = self.in_flight.get(kind, 0) + 1
        self.peak[kind] = max(self.peak.get(kind, 0), self.in_flight[kind])
        try:
            await asyncio.sleep(self.pause)  # let the look send what it sends side by side
            if key == self.hold:
                self._released = self._released or asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), HOLD_SECONDS)
            response = self.app.handler(request)
        finally:
            self.in_flight[kind] -= 1
        self.answered.append(key)
        if key == self.until:
            self._released = self._released or asyncio.Event()
            self._released.set()
        return response


def _look(app: FakeApp, transport: Held, reads: list[dict[str, Any]]) -> list[Observation]:
    target = ProfileTarget(profile(reads=reads), BASE, transport=transport)
    # These tests count and order the profile's own reads; the owner's request-shape
    # variants (harness.client.variants, tested in test_client.py) would join them.
    target.client.variant_reads = 0

    async def scenario() -> list[Observation]:
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=1, observers=1, per_owner=1))
        )
        session = await target.login(next(iter(world.actors.values())))
        return await target.look(session, "test/look")

    return asyncio.run(scenario())


def test_plain_reads_run_side_by_side_and_teach_in_the_reads_order() -> None:
    # FakeApp lists two notes a page: page 2 holds note 2, page 1 notes 0 and 1. Page 2's
    # answer is held until page 1 is answered, so it comes back last although it was asked first.
    app = FakeApp()
    transport = Held(app, hold="/notes?page=2", until="/notes?page=1")
    reads = [
        {"get": "/notes?page=2"},
        {"get": "/notes?page=1"},
        {"get": "/notes/{{note.id}}", "each": "note"},
    ]
    seen = _look(app, transport, reads)
    assert transport.peak["/notes"] == 2  # both list reads were in flight at once
    assert transport.answered.index("/notes?page=1") < transport.answered.index("/notes?page=2")
    # ...yet the notes are visited in the order the reads were written: page 2's note first.
    items = [o.url.rsplit("/", 1)[1] for o in seen if o.endpoint == "GET /notes/{note_id}"]
    assert [i.rsplit("-", 1)[1] for i in items] == ["2", "0", "1"]
    # Observations come back in the reads' order too.
    lists = [o.url for o in seen if o.endpoint.startswith("GET /notes") and "{" not in o.endpoint]
    assert lists == ["/notes?page=2", "/notes?page=1"]


def test_each_reads_run_at_most_the_bound_at_once_in_item_order() -> None:
    app = FakeApp()
    transport = Held(app, pause=0.01)
    reads: list[dict[str, Any]] = [
        {"get": "/notes", "page": {"next": "link-header"}},
        {"get": "/notes/{{note.id}}", "each": "note"},
    ]
    target_notes = 3  # FakeApp gives each user three notes
    seen = _look(app, transport, reads)
    assert 2 <= transport.peak["item"] <= EACH_CONCURRENCY
    items = [o.url.rsplit("-", 1)[1] for o in seen if o.endpoint == "GET /notes/{note_id}"]
    assert items == [str(i) for i in range(target_notes)]


def test_every_item_of_a_heavy_owner_made_after_the_first_look_is_read() -> None:
    """A heavy owner's items are sampled at both ends, in the order the user first saw them.
    When the run makes more of them between two looks than an end holds, the first of them
    fell in the middle and went unread; first seen after the user's first look, each is read."""
    app = FakeApp(by_text=True)
    target = ProfileTarget(
        profile(heavy={"owners": 1, "each": 1}), "http://fake.test", transport=app.transport()
    )
    target.client.variant_reads = 0

    async def scenario() -> tuple[list[str], list[str]]:
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=1, observers=1, per_owner=1))
        )
        # notes come with the sign-up here, so the population seeds no heavy owner: the
        # user is made one, as the harness does a user with a long list
        owner = next(iter(world.actors.values()))
        target.client.world = replace(world, heavy=(owner.id,))
        session = await target.login(owner)
        first = await target.look(session, "test/look")
        # the run makes two notes, listed between the seeded "note 1" and "note 2"
        user = next(u for u in app.users.values() if u["username"] == owner.vars["username"])
        user["notes"] += [f"note 1a by {user['name']}", f"note 1b by {user['name']}"]
        again = await target.look(session, "test/look")
        return _texts(first), _texts(again)

    first, again = asyncio.run(scenario())
    assert len(first) == 2 and not any("note 1 " in t for t in first)  # the ends of 3
    assert sorted(t.split(" by ")[0] for t in again) == ["note 1a", "note 1b"], again


def _texts(seen: list[Observation]) -> list[str]:
    return [
        str(json.loads(o.body)["text"])
        for o in seen
        if o.endpoint == "GET /notes/{note_id}" and o.status == 200
    ]
