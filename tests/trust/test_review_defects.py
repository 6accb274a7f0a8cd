"""Issue 25's security review, outside the controller: one test per defect it listed, named
after it. Each reproduces the probe and asserts the safe outcome; each fails on the code before
its fix."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from flags.backends.local import LocalBackend
from harness.local_clinic import local_clinic
from harness.profile import load_profile
from tests.flags.conftest import BUILD, write_policy

FLAG = "video-switch"


def _predicate(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))["predicate"]


def _enable(cli, state: Path, verdict: Path, env: str):
    return cli(
        "enable",
        FLAG,
        "--env",
        env,
        "--state",
        str(state),
        "--verdict",
        str(verdict),
        "--build",
        BUILD,
    )


# -- the loopback target -----------------------------------------------------------------------


def test_loopback_target_gives_a_reference_verdict_that_cannot_enable_production(
    gate_in_process,
    policy_file: Path,
    cli,
    state: Path,
) -> None:
    verdict = gate_in_process(policy_file, "http://127.0.0.1:8000")
    assert _predicate(verdict)["reference"] is True
    refused = _enable(cli, state, verdict, "production")
    assert refused.code == 1 and "reference verdict" in refused.err
    assert not LocalBackend(state).status(FLAG, "production").enabled
    assert _enable(cli, state, verdict, "development").code == 0


def test_loopback_target_named_in_allowed_targets_is_the_teams_explicit_choice(
    gate_in_process,
    tmp_path: Path,
) -> None:
    policy = write_policy(tmp_path / "own", allowed_targets=["127.0.0.1"])
    assert _predicate(gate_in_process(policy, "http://127.0.0.1:8000"))["reference"] is False


def test_loopback_target_that_reports_it_is_the_bundled_clinic_is_reference_anywhere(
    gate_in_process,
    policy_file: Path,
) -> None:
    # The fixture's probe says "reference" for this host, as the bundled clinic's /healthz does.
    verdict = gate_in_process(policy_file, "https://reference.staging.example")
    assert _predicate(verdict)["reference"] is True


def test_loopback_target_the_bundled_clinic_started_by_hand_says_what_it_is() -> None:
    from chaperone.targets import reports_reference

    profile = load_profile("clinic")
    with local_clinic() as clinic:
        assert reports_reference(clinic.url, profile) is True
    assert reports_reference(clinic.url, profile) is False  # stopped: nothing answers
