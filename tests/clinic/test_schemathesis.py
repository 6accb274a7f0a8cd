"""The clinic's OpenAPI document tells the truth: `schemathesis run` against a running clean
clinic, logged in as a patient and as a clinician, finds no server error and no response whose
status code, content type or body the document does not declare."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS as REGISTERED_CHECKS

from clinic.settings import ClinicSettings
from tests.clinic.server import running_clinic
from tests.clinic.world import PASSWORD, SUPPORT_TOKEN, seed

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES_PER_OPERATION = 10


@pytest.fixture(scope="module")
def clinic_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis-clinic")
    config = ClinicSettings(
        data_dir=data_dir, support_token=SUPPORT_TOKEN, switch_negotiation_seconds=0.0
    )
    with running_clinic(config) as base_url:
        with httpx.Client(base_url=base_url) as client:
            world = seed(client)
            for user in ("alice", "bob"):
                world.call(user, "join")
                world.call(user, "switch", "video")
                world.call(user, "end")
        yield base_url


def _bearer(base_url: str, user: str) -> dict[str, str]:
    login = httpx.post(f"{base_url}/api/login", json={"username": user, "password": PASSWORD})
    assert login.status_code == 200
    return {"Authorization": f"Bearer {login.json()['token']}"}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("user", ["alice", "dr_grey"])
def test_schemathesis_run_conforms(clinic_url: str, user: str, tmp_path: Path) -> None:
    """The `schemathesis run` CLI, every phase; logout is left out (it would end the session
    every later request relies on) and fuzzed on its own below."""
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{clinic_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: {_bearer(clinic_url, user)['Authorization']}",
        "--exclude-path",
        "/api/logout",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--request-timeout",
        "30",
        "--warnings",
        "off",
    ]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout


@pytest.mark.integration
def test_logout_conforms(clinic_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{clinic_url}/openapi.json")
    (operation,) = [
        result.ok() for result in schema.get_all_operations() if result.ok().path == "/api/logout"
    ]
    checks = REGISTERED_CHECKS.get_by_names(list(CHECKS))
    assert len(checks) == len(CHECKS)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: Any) -> None:
        # Each case logs out its own fresh session.
        headers = _bearer(clinic_url, "alice")
        case.call_and_validate(base_url=clinic_url, headers=headers, checks=checks)

    run()


@pytest.mark.integration
def test_openapi_lists_every_json_route_and_no_page(clinic_url: str) -> None:
    spec = httpx.get(f"{clinic_url}/openapi.json").json()
    operations = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    assert len(operations) >= 25
    assert {"GET /api/search", "DELETE /api/recordings/{recording_id}"} <= operations
    assert not [op for op in operations if "/_support" in op or "/profile" in op]
    assert not [op for op in operations if op.split()[1] in ("/login", "/ws/events")]
