"""A real `chaperone controller serve` for browser tests: its own process on a free port, tokens
made with `chaperone controller token create`, a pin set by two admins over the API, and
Chromium (Debian's, under Playwright) to drive the dashboard."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from flags.keys import new_signing_key
from flags.policy import BoundPolicy, bind_policy
from flags.verdict import envelope_of
from harness.childenv import child_env
from scenarios.browser.launch import CHROMIUM_ARGS
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.controller import chaperone, controller_serve

FLAG = "video-switch"
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {
    "alice": "admin",
    "bob": "admin",
    "rita": "release-manager",
    "vic": "viewer",
}


def artifacts() -> Path:
    base = Path(os.environ.get("CHAPERONE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path = base / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Served:
    url: str
    tmp: Path
    db: str
    bound: BoundPolicy
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def pin(self) -> None:
        body = {"policy_digest": self.bound.digest, "keys": [SIGNING.public().pem().decode()]}
        made = self.api("alice", "POST", f"/v1/flags/{FLAG}/pin-proposals", json=body)
        assert made.status_code == 200, made.text
        number = made.json()["proposal"]
        done = self.api("bob", "POST", f"/v1/pin-proposals/{number}/approve")
        assert done.status_code == 200, done.text

    def verdict(self, name: str, digest: str, **overrides: Any) -> Path:
        path = self.tmp / f"{name}.json"
        verdict = make_verdict(self.bound, build=name, build_digest=digest, **overrides)
        path.write_text(json.dumps(envelope_of(verdict, SIGNING)))
        return path


@contextlib.contextmanager
def serve(
    tmp: Path,
    *backend: str,
    env: dict[str, str] | None = None,
    policy: dict[str, Any] | None = None,
) -> Iterator[Served]:
    """The controller on `backend` args (default: the local file backend), heal every second;
    `policy` changes the shipped release policy its verdicts are made under."""
    db = f"sqlite:///{tmp / 'controller.db'}"
    key = new_signing_key()
    (tmp / "controller.key").write_bytes(key.pem())
    if not backend:
        from flags.backends.local import LocalBackend

        state = tmp / "flags-state.json"
        LocalBackend(state).declare_environments(["development", "production"])
        backend = ("--backend", "local", "--state", str(state))
    served = Served(
        "",  # known once it serves, on a free port
        tmp,
        db,
        bind_policy(write_policy(tmp / "policy", **(policy or {}))),
    )
    for name, role in PEOPLE.items():
        served.tokens[name] = chaperone(
            "controller", "token", "create", "--db", db, "--role", role, "--name", name
        )
    with controller_serve(
        db,
        tmp / "controller.key",
        tmp / "serve.log",
        *("--heal-interval", "1", *backend),
        env=env,
    ) as url:
        served.url = url
        yield served


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=list(CHROMIUM_ARGS),
        env=dict[str, str | float | bool](child_env()),
    )


def sign_in(browser: Browser, served: Served, who: str, **context: Any) -> Page:
    """A fresh browser context signed in as `who`, by keyboard: type the token, press Enter."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}, **context).new_page()
    page.goto(f"{served.url}/dashboard/")
    page.get_by_label("Controller token").fill(served.tokens[who])
    page.get_by_label("Controller token").press("Enter")
    page.wait_for_url(f"{served.url}/dashboard/")
    assert page.locator("#me-name").inner_text() == who
    return page
