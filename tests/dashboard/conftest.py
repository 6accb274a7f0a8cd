"""The dashboard over the controller's app in-process (Starlette's TestClient), on https so the
Secure session cookie travels as it does in a browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from tests.clinic.testclient import TestClient
from tests.controller.conftest import FLAG, World, world

__all__ = ["FLAG", "Dash", "World", "world"]


class Dash:
    """One browser-like client: its own cookie jar, signed in as one person."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.client = TestClient(world.client.app, base_url="https://testserver")

    def login(self, who: str) -> None:
        page = self.client.get("/dashboard/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        assert nonce, page.text
        done = self.client.post(
            "/dashboard/login",
            data={"token": self.world.tokens[who], "nonce": nonce.group(1)},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text

    def csrf(self, path: str = "/dashboard/") -> str:
        page = self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)


@pytest.fixture
def dash(world: World) -> Iterator[Callable[..., Dash]]:
    made: list[Dash] = []

    def make(who: str | None = None) -> Dash:
        d = Dash(world)
        if who is not None:
            d.login(who)
        made.append(d)
        return d

    yield make
    for d in made:
        d.client.close()
