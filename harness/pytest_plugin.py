"""pytest plugin (entry point `pytest11`): fixtures for writing scenario tests with plain pytest.

Thin on purpose: nothing heavy is imported until a test asks for a fixture.

    export CHAPERONE_SUPPORT_TOKEN="$(cat ~/.config/staging-support-token)"  # never in argv
    pytest --chaperone-target http://127.0.0.1:8000

Without --chaperone-target, the `chaperone_target` fixture starts the reference clinic locally.
`assert chaperone.look(p1) == []` failing prints one line per exposure (owner → observer, what,
where, when) and the command that plays the scenario again.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.facade import Chaperone
    from harness.oracles import Judge

TOKEN_ENV = "CHAPERONE_SUPPORT_TOKEN"
_running = pytest.StashKey[str]()  # node id of the test being run, for the replay command


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaperone", "Chaperone release-safety fixtures")
    group.addoption(
        "--chaperone-target",
        default=os.environ.get("CHAPERONE_TARGET"),
        help="base URL of the staging target (default: start the local clinic)",
    )
    group.addoption(
        "--chaperone-support-token",
        default=None,
        help=f"staging support API token; prefer env {TOKEN_ENV}: argv is visible to others",
    )
    group.addoption("--chaperone-seed", type=int, default=0, help="population seed")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_running] = item.nodeid


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> Any:
    """`look() == []` (or any comparison with the findings a look returned) explained as
    exposures, one per line, then how to run it again."""
    readable = sys.modules.get("harness.readable")  # no Findings exist unless it is loaded
    if readable is None or op != "==":
        return None
    findings = next((s for s in (left, right) if isinstance(s, readable.Findings)), None)
    if findings is None or not findings:
        return None
    lines = [f"{len(findings)} finding(s): the look saw data it may not"]
    lines += [f"  {line}" for line in findings.lines()]
    return [*lines, f"replay: {_replay_command(config)}"]


def _replay_command(config: pytest.Config) -> str:
    parts = ["pytest", config.stash.get(_running, "")]
    parts += ["--chaperone-seed", str(config.getoption("--chaperone-seed"))]
    target = config.getoption("--chaperone-target")
    if target:
        parts += ["--chaperone-target", target]
        return f"{shlex.join(parts)}  (with {TOKEN_ENV} exported)"
    return shlex.join(parts)


@pytest.fixture(scope="session")
def chaperone_target(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(base URL, support token) of the target; a local clinic if none was given."""
    target = request.config.getoption("--chaperone-target")
    token = request.config.getoption("--chaperone-support-token") or os.environ.get(TOKEN_ENV)
    if target:
        if not token:
            raise pytest.UsageError(f"--chaperone-target needs a support token: export {TOKEN_ENV}")
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
