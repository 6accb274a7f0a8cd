"""The crawl in a look, against a small in-process app: a page the profile never names, linked
from /me, is read as the user and marked for the access replay; unsafe and off-origin links
are never requested; the bounds hold and are reported."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from harness.adapters.profile import ProfileTarget
from harness.models import Observation
from harness.population import Counts, make_population
from tests.unit.fakeapp import FakeApp, profile

BASE = "http://fake.test"


class LinkingApp(FakeApp):
    """/me links a summary page (in no profile), a logout, another origin and a profile route."""

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/summary/"):
            self.requests.append(f"GET {path}")
            printable = "" if path.endswith("/print") else f'<a href="{path}/print">print</a>'
            body = f"<p>summary {path}</p>{printable}"
            return httpx.Response(200, text=body, headers={"content-type": "text/html"})
        if path in ("/logout", "/x"):
            self.requests.append(f"{request.method} {path}")
            return httpx.Response(200, json={})
        response = super().handler(request)
        if path == "/me" and response.status_code == 200:
            me = self.users[response.json()["username"]]
            links = (
                f'</summary/{me["id"]}>; rel="related", </logout>; rel="logout", '
                '<http://evil.test/x>; rel="x", </notes?page=1>; rel="list"'
            )
            response.headers["link"] = links
        return response


def _look(app: LinkingApp, **crawl: Any) -> tuple[ProfileTarget, list[Observation]]:
    target = ProfileTarget(
        profile(crawl=crawl, unsafe=["GET /logout"]),
        BASE,
        transport=httpx.MockTransport(app.handler),
    )

    async def run() -> list[Observation]:
        await target.check()
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=2, observers=1, per_owner=1))
        )
        seen: list[Observation] = []
        for actor in world.actors.values():
            seen += await target.look(await target.login(actor), "test/look")
        return seen

    return target, asyncio.run(run())


def test_a_linked_page_is_read_as_its_receiver_and_replayable() -> None:
    app = LinkingApp()
    target, seen = _look(app)
    crawled = [o for o in seen if o.endpoint.startswith("GET /summary/")]
    assert {o.endpoint for o in crawled} == {"GET /summary/{id}", "GET /summary/{id}/print"}
    assert all(o.read == o.endpoint and not o.about for o in crawled)
    assert "GET /logout" not in app.requests and "GET /x" not in app.requests
    assert target.coverage.found_routes() == {
        "GET /summary/{id}": "crawl",
        "GET /summary/{id}/print": "crawl",
    }
    sources = target.coverage.sources()
    assert sources["crawl"] == len(crawled) == 4  # two users, two pages each
    assert (
        target.coverage.bounds()["crawl_refused"] >= 2
        and target.coverage.bounds()["crawl_off_origin"] >= 2
    )


def test_the_run_bounds_cut_and_are_counted() -> None:
    app = LinkingApp()
    target, seen = _look(app, max_requests=1)
    assert sum(1 for o in seen if o.endpoint.startswith("GET /summary/")) == 1
    assert target.coverage.bounds()["crawl_cut"] >= 1


def test_without_crawl_nothing_is_followed() -> None:
    app = LinkingApp()
    target = ProfileTarget(profile(), BASE, transport=httpx.MockTransport(app.handler))

    async def run() -> None:
        await target.check()
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=2, observers=1, per_owner=1))
        )
        for actor in world.actors.values():
            await target.look(await target.login(actor), "test/look")

    asyncio.run(run())
    assert not [r for r in app.requests if "/summary/" in r]


class TrapApp(LinkingApp):
    """Every summary page links one level deeper, forever: a crawler trap."""

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/summary/"):
            self.requests.append(f"GET {path}")
            body = f'<a href="{path}/more">more</a>'
            return httpx.Response(200, text=body, headers={"content-type": "text/html"})
        return super().handler(request)


def test_a_crawler_trap_stops_at_the_bounds() -> None:
    app = TrapApp()
    target, _ = _look(app, max_routes=5, max_requests=100)
    deep = [r for r in app.requests if r.startswith("GET /summary/")]
    assert len(target.coverage.found_routes()) == 5 and len(deep) <= 100
    assert target.coverage.bounds()["crawl_cut"] >= 1


def test_imported_routes_the_profile_reads_are_not_new() -> None:
    app = LinkingApp()
    spec = profile(unsafe=["GET /logout"])
    target = ProfileTarget(spec, BASE, transport=httpx.MockTransport(app.handler))
    target.add_routes(["GET /me", "GET /notes/{id}", "GET /logout", "GET /summary/{id}"], "har")

    async def run() -> list[Observation]:
        await target.check()
        world = await target.seed(
            make_population(target.profile, 0, Counts(owners=2, observers=1, per_owner=1))
        )
        seen: list[Observation] = []
        for actor in world.actors.values():
            seen += await target.look(await target.login(actor), "test/look")
        return seen

    seen = asyncio.run(run())
    assert target.coverage.found_routes() == {"GET /summary/{id}": "har"}
    assert "GET /logout" not in app.requests
    read = [o for o in seen if o.endpoint == "GET /summary/{id}"]
    assert read and all(o.read == "GET /summary/{id}" for o in read)
    assert target.coverage.sources()["har"] == len(read)
