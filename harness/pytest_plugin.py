"""pytest plugin (entry point `pytest11`): fixtures for writing scenario tests with plain pytest.

Thin on purpose: nothing heavy is imported until a test asks for a fixture.

    pytest --chaperone-target http://127.0.0.1:8000 --chaperone-support-token T

Without --chaperone-target, the `chaperone_target` fixture starts the reference clinic locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.facade import Chaperone
    from harness.oracles import Judge


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaperone", "Chaperone release-safety fixtures")
    group.addoption(
        "--chaperone-target",
        default=os.environ.get("CHAPERONE_TARGET"),
        help="base URL of the staging target (default: start the local clinic)",
    )
    group.addoption(
        "--chaperone-support-token",
        default=os.environ.get("CHAPERONE_SUPPORT_TOKEN"),
        help="staging support API token (env CHAPERONE_SUPPORT_TOKEN)",
    )
    group.addoption("--chaperone-seed", type=int, default=0, help="population seed")


@pytest.fixture(scope="session")
def chaperone_target(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(base URL, support token) of the target; a local clinic if none was given."""
    target = request.config.getoption("--chaperone-target")
    token = request.config.getoption("--chaperone-support-token")
    if target:
        if not token:
            raise pytest.UsageError("--chaperone-target needs --chaperone-support-token")
        yield target, token
        return
    from harness.local_clinic import local_clinic

    with local_clinic() as clinic:
        yield clinic.url, clinic.support_token


@pytest.fixture
def chaperone(
    chaperone_target: tuple[str, str], request: pytest.FixtureRequest
) -> Iterator[Chaperone]:
    """A freshly seeded world on the target, with sync helpers: act, look, seed."""
    from harness.facade import Chaperone

    facade = Chaperone(*chaperone_target)
    facade.seed(seed=request.config.getoption("--chaperone-seed"))
    try:
        yield facade
    finally:
        facade.close()


@pytest.fixture
def chaperone_oracle(chaperone: Chaperone) -> Judge:
    """The oracle for the seeded world: `chaperone_oracle(observation) -> [Finding]`."""
    assert chaperone.judge is not None
    return chaperone.judge
