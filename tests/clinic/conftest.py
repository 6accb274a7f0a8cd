from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clinic.app import create_app
from clinic.settings import ClinicSettings
from tests.clinic.testclient import TestClient
from tests.clinic.world import SUPPORT_TOKEN, World, seed

MakeWorld = Callable[..., World]


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[MakeWorld]:
    """Start an in-process clinic (SQLite in a tmp dir) with the given faults, seeded."""
    clients: list[TestClient] = []

    def make(*faults: str, **overrides: object) -> World:
        data_dir = tmp_path / f"clinic{len(clients)}"
        settings = ClinicSettings(
            data_dir=data_dir,
            faults=frozenset(faults),
            support_token=SUPPORT_TOKEN,
            switch_negotiation_seconds=0.0,
            **overrides,  # type: ignore[arg-type]
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return seed(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)
