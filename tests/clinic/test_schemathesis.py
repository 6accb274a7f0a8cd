"""Property-based API testing of a running clean clinic: no generated request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from clinic.settings import ClinicSettings
from tests.clinic.server import running_clinic
from tests.clinic.world import PASSWORD, SUPPORT_TOKEN, seed


@pytest.fixture(scope="module")
def clinic_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis-clinic")
    config = ClinicSettings(
        data_dir=data_dir, support_token=SUPPORT_TOKEN, switch_negotiation_seconds=0.0
    )
    with running_clinic(config) as base_url:
        with httpx.Client(base_url=base_url) as client:
            world = seed(client)
            world.call("alice", "join")
            world.call("alice", "switch", "video")
            world.call("alice", "end")
        yield base_url


def _bearer(base_url: str) -> dict[str, str]:
    login = httpx.post(f"{base_url}/api/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    return {"Authorization": f"Bearer {login.json()['token']}"}


@pytest.mark.integration
def test_no_server_errors(clinic_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{clinic_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    shared = _bearer(clinic_url)
    for operation in operations:
        _fuzz(operation, clinic_url, shared)


def _fuzz(operation: Any, base_url: str, shared: dict[str, str]) -> None:
    logs_out = operation.path == "/api/logout"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: Any) -> None:
        # Logout gets its own session each time so it cannot end the shared one.
        headers = _bearer(base_url) if logs_out else shared
        case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error])

    run()


@pytest.mark.integration
def test_openapi_has_enough_operations(clinic_url: str) -> None:
    spec = httpx.get(f"{clinic_url}/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path]
    assert len(operations) >= 12
