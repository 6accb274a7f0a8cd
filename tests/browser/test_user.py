"""One browser user in real Chromium against a few pages served on 127.0.0.1: the login form,
a click that reloads, a refused click, a missing control."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import pytest
from playwright.async_api import async_playwright

from harness.errors import InfrastructureError
from harness.models import Actor
from scenarios.browser.launch import launch_chromium
from scenarios.browser.user import BrowserUser

pytestmark = pytest.mark.integration

T = TypeVar("T")
TIMEOUT_MS = 8_000

LOGIN = """<form method="post" action="/login"><input name="username"><input name="password">
<button type="submit">Log in</button></form>"""
CALL = """<p id="state">ready</p><button id="go">Go</button><button id="bad">Bad</button>
<script>
  const act = async (path) => {
    const response = await fetch(path, {method: "POST"});
    if (response.ok) { location.reload(); return; }
    document.getElementById("state").textContent = "refused";
  };
  document.getElementById("go").onclick = () => act("/api/go");
  document.getElementById("bad").onclick = () => act("/api/bad");
</script>"""


class App(BaseHTTPRequestHandler):
    """The pages; what the browser asked for is kept in `requests`."""

    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        return  # keep the test output quiet

    def do_GET(self) -> None:
        self.requests.append(f"GET {self.path}")
        page = {"/login": LOGIN, "/call": CALL}.get(self.path, "<h1>home</h1>")
        self._send(200, "text/html", page)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.requests.append(f"POST {self.path}")
        if self.path == "/login" and "username=ada" in body:
            self.send_response(303)
            self.send_header("Location", "/home")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/login":
            self._send(200, "text/html", LOGIN)
        elif self.path == "/api/go":
            self._send(200, "application/json", "{}")
        else:
            self._send(409, "application/json", json.dumps({"detail": "not now"}))

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def _serving() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (App,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def _with_user(work: Callable[[BrowserUser, list[str]], Awaitable[T]]) -> T:
    async def go(url: str, requests: list[str]) -> T:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright, "/usr/bin/chromium")
            user = await BrowserUser.start(browser, Actor("p0", "patient"), url, TIMEOUT_MS)
            try:
                return await work(user, requests)
            finally:
                await browser.close()

    with _serving() as (url, requests):
        return asyncio.run(go(url, requests))


FIELDS = {'input[name="username"]': "ada", 'input[name="password"]': "pw"}


def test_the_login_form_is_filled_and_submitted() -> None:
    async def work(user: BrowserUser, requests: list[str]) -> tuple[int, str]:
        status = await user.login("/login", FIELDS, 'button[type="submit"]')
        return status, user.path

    assert _with_user(work) == (200, "/home")


def test_a_login_form_that_comes_back_is_refused_naming_the_user() -> None:
    async def work(user: BrowserUser, requests: list[str]) -> None:
        fields = {**FIELDS, 'input[name="username"]': "mallory"}
        await user.login("/login", fields, 'button[type="submit"]')

    with pytest.raises(InfrastructureError, match="did not accept seeded user p0"):
        _with_user(work)


def test_a_click_waits_for_its_request_and_the_page_it_reloads() -> None:
    async def work(user: BrowserUser, requests: list[str]) -> tuple[int, int, str, list[str]]:
        await user.goto("/call")
        clicked = await user.click("#go", reloads=True)
        return clicked.status, clicked.landed, clicked.path, requests

    status, landed, path, requests = _with_user(work)
    assert (status, landed, path) == (200, 200, "/api/go")
    pages = [r for r in requests if r != "GET /favicon.ico"]
    assert pages == ["GET /call", "POST /api/go", "GET /call"]


def test_a_refused_click_is_returned_without_waiting_for_a_reload() -> None:
    async def work(user: BrowserUser, requests: list[str]) -> tuple[int, str, float, str]:
        await user.goto("/call")
        started = time.monotonic()
        clicked = await user.click("#bad", reloads=True)
        seconds = time.monotonic() - started
        return clicked.status, clicked.detail, seconds, await user.page.inner_text("#state")

    status, detail, seconds, state = _with_user(work)
    assert status == 409 and "not now" in detail
    assert seconds < TIMEOUT_MS / 1000 / 2
    assert state == "refused"


def test_a_missing_control_names_the_selector_and_the_page() -> None:
    async def work(user: BrowserUser, requests: list[str]) -> None:
        await user.goto("/call")
        await user.click("#switch-to-video", reloads=True)

    with pytest.raises(InfrastructureError, match="/call has no #switch-to-video for p0"):
        _with_user(work)
