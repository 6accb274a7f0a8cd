"""Which endpoints run on the event loop and which in worker threads (see clinic.routes)."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from clinic.app import ROUTER_MODULES

# GETs that are not reads: logging out deletes the token; the support API is sync throughout.
_NOT_READS = ("/logout", "/_support")
# Flows that must run at once in worker threads: the switch-race fault parks a call across a
# sleep in the media negotiation, and it is only caught if two switches really overlap.
_OVERLAPPING = ("join", "leave", "switch", "end")


def _routes() -> list[tuple[str, APIRoute]]:
    """(full path, route) for every HTTP route of every router the app includes."""
    return [
        (module.router.prefix + route.path, route)
        for module in ROUTER_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]


def test_every_read_runs_on_the_event_loop() -> None:
    reads = [(p, r) for p, r in _routes() if r.methods == {"GET"} and not p.startswith(_NOT_READS)]
    assert len(reads) >= 15  # the API, the pages, the health check
    threaded = [p for p, r in reads if not inspect.iscoroutinefunction(r.endpoint)]
    assert threaded == [], f"reads that hop to a worker thread: {threaded}"


def test_call_flows_stay_in_worker_threads() -> None:
    flows = [
        (p, r)
        for p, r in _routes()
        if r.methods == {"POST"} and p.startswith("/api/consultations/")
    ]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in flows) == sorted(_OVERLAPPING)
    on_loop = [p for p, r in flows if inspect.iscoroutinefunction(r.endpoint)]
    assert on_loop == [], f"flows that would no longer overlap: {on_loop}"
