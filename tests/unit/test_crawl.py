"""The crawl's link extraction: HTML, headers and JSON strings, kept to the target's origin,
never to an unsafe route, within its bounds."""

from __future__ import annotations

import json

from harness.client.crawl import Crawl, links, route_path, same_origin_path
from harness.models import Observation

ORIGIN = "http://127.0.0.1:8000"


def _obs(
    body: bytes = b"",
    content_type: str = "text/html; charset=utf-8",
    headers: tuple[tuple[str, str], ...] = (),
    url: str = "/profile",
    status: int = 200,
) -> Observation:
    return Observation(
        actor="p0",
        step="look",
        method="GET",
        url=url,
        endpoint="GET /profile",
        status=status,
        headers=(("content-type", content_type), *headers),
        body=body,
        time=0.0,
        content_type=content_type,
    )


HTML = b"""<html><head><link rel="stylesheet" href="/static/a.css">
<link rel="alternate" href="/feed.xml"></head><body>
<a href="/profile/17/summary">Summary</a>
<a href="details?x=1#top">relative</a>
<a href="#anchor">anchor</a><a href="mailto:a@b">mail</a><a href="javascript:void(0)">js</a>
<a href="https://evil.example/steal">off origin</a>
<a href="http://127.0.0.1:9999/other-port">other port</a>
<a href="https://127.0.0.1:8000/other-scheme">other scheme</a>
<a href="http://127.0.0.1:8000/absolute">same origin, absolute</a>
<form method="get" action="/search"><input name="q"></form>
<form method="post" action="/api/delete"></form>
<img src="/img/1.png"><script src="//cdn.example/x.js"></script>
</body></html>"""


def test_html_links_forms_and_src() -> None:
    found = links(_obs(HTML))
    assert "/profile/17/summary" in found
    assert "details?x=1#top" in found
    assert "/feed.xml" in found
    assert "/search" in found  # a GET form's action
    assert "/api/delete" not in found  # a POST form is never followed
    assert "/img/1.png" in found and "//cdn.example/x.js" in found
    assert "/static/a.css" not in found


def test_headers_location_link_and_content_location() -> None:
    headers = (
        ("Location", "/next"),
        ("Content-Location", "/api/items/5"),
        ("Link", '</api/items?page=2>; rel="next", </api/items?page=9>; rel="last"'),
    )
    found = links(_obs(b"{}", "application/json", headers))
    assert found[:4] == ["/next", "/api/items/5", "/api/items?page=2", "/api/items?page=9"]


def test_json_strings_that_look_like_paths_or_urls() -> None:
    body = json.dumps(
        {
            "activity": {"href": "/api/activity/3"},
            "items": [{"url": "http://127.0.0.1:8000/files/9"}, {"note": "a / b"}],
            "title": "/ not a path",
            "text": "see /api/x in the docs",
        }
    ).encode()
    found = links(_obs(body, "application/json"))
    assert found == ["/api/activity/3", "http://127.0.0.1:8000/files/9"]


def test_origin_filter_resolves_relative_links_and_refuses_other_origins() -> None:
    def keep(link: str) -> str | None:
        return same_origin_path(link, "/profile/17", ORIGIN)

    assert keep("/a?b=1#frag") == "/a?b=1"
    assert keep("details") == "/profile/details"
    assert keep("http://127.0.0.1:8000/x") == "/x"
    assert keep("HTTP://127.0.0.1:8000/x") == "/x"
    assert keep("https://127.0.0.1:8000/x") is None
    assert keep("http://127.0.0.1:8001/x") is None
    assert keep("http://localhost:8000/x") is None
    assert keep("//evil.example/x") is None
    assert keep("mailto:someone@example.com") is None
    assert keep("#top") is None
    assert same_origin_path("/app/x", "/app/", "http://h:80/app") == "/x"
    assert same_origin_path("/elsewhere", "/app/", "http://h/app") is None
    assert same_origin_path("http://h:80/app/y", "/app/", "http://h/app") == "/y"


def test_route_path_templatises_ids() -> None:
    assert route_path("/profile/17/summary?x=1") == "/profile/{id}/summary"
    assert route_path("/f/0b6e3f0e-3c1e-4a59-9d8e-1f2a3b4c5d6e") == "/f/{id}"
    assert route_path("/o/5f1e2d3c4b5a69788796a5b4") == "/o/{id}"
    assert route_path("/books/v1/title-one") == "/books/v1/title-one"


def _crawl(**kw: object) -> Crawl:
    return Crawl(
        ORIGIN,
        known=lambda path: path.startswith("/profile?") or path == "/known",
        unsafe=lambda route: route in ("GET /logout", "GET /createdb"),
        **kw,  # type: ignore[arg-type]
    )


def test_candidates_keep_origin_skip_known_done_and_unsafe() -> None:
    crawl = _crawl()
    body = b"""<a href="/logout">out</a><a href="/known">k</a><a href="/profile/3/summary">s</a>
    <a href="/done">d</a><a href="https://evil.example/x">e</a><a href="/profile?page=2">p</a>
    <a href="/createdb">reset</a>"""
    found = crawl.candidates(_obs(body), done={"/done"})
    assert found == [("/profile/3/summary", "GET /profile/{id}/summary")]
    assert crawl.refused == 2
    assert crawl.off_origin == 1


def test_candidates_of_an_error_answer_are_none() -> None:
    assert _crawl().candidates(_obs(b'<a href="/x">x</a>', status=404), done=set()) == []


def test_bounds_cap_routes_requests_and_paths_per_route() -> None:
    crawl = _crawl(max_routes=2, max_requests=3, per_route=2)
    assert crawl.admit("GET /a/{id}", "crawl", already=0)
    assert crawl.admit("GET /a/{id}", "crawl", already=1)
    assert not crawl.admit("GET /a/{id}", "crawl", already=2)  # per route, per user
    assert crawl.admit("GET /b", "crawl", already=0)
    assert not crawl.admit("GET /c", "crawl", already=0)  # a third route
    assert not crawl.admit("GET /b", "crawl", already=0)  # the request bound
    assert crawl.routes == {"GET /a/{id}": "crawl", "GET /b": "crawl"}
    assert crawl.requests == 3
    assert crawl.cut == 2


def test_a_huge_body_is_read_only_to_its_bound() -> None:
    body = b"<p>" + b"x" * (2 << 20) + b'</p><a href="/late">late</a>'
    assert "/late" not in links(_obs(body))


def test_a_large_answer_is_parsed_each_time_with_the_same_links() -> None:
    """Answers past the memo's body size are parsed afresh, never kept, and give the same
    links as a small one."""
    padding = "x" * (100 << 10)
    body = json.dumps({"pad": padding, "next": "/api/items?page=2"}).encode()
    assert links(_obs(body, "application/json")) == ["/api/items?page=2"]
    assert links(_obs(body, "application/json")) == ["/api/items?page=2"]
    small = json.dumps({"next": "/api/items?page=2"}).encode()
    assert links(_obs(small, "application/json")) == ["/api/items?page=2"]
