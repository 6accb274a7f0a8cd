"""The clinic pointed at a real Unleash server (npm unleash-server on a real PostgreSQL) shows
or hides **Switch to video** within seconds of `chaperone flags enable` / `disable`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flags.gate import build_verdict
from flags.policy import bind_policy
from flags.verdict import write_verdict
from harness.events import RunFinished, RunStarted, SuiteFinished
from harness.local_clinic import LocalClinic, local_clinic
from harness.models import Verdict
from reports.result import RunCollector
from tests.flags.conftest import PUBLIC_PEM, SIGNING, write_policy
from tests.services.postgres import postgres
from tests.services.unleash import UnleashServer, unleash_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG = "video-switch"


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


def passing_verdict(path: Path, build: str, policy_file: Path) -> Path:
    bound = bind_policy(policy_file)
    names = tuple(bound.policy.required_suites)
    events = [RunStarted("r", "http://127.0.0.1:1", 0, names, 0.0, build)]
    events += [SuiteFinished(n, Verdict.PASS, 1.0, 1.0) for n in names]
    events.append(RunFinished(Verdict.PASS, 1.0, 1.0))
    result = RunCollector().consume(events)
    verdict = build_verdict(bound, result, build, "https://clinic.staging.example", reference=False)
    return write_verdict(verdict, path, SIGNING)


def flags_cli(
    unleash: UnleashServer, tmp: Path, *args: str, env_name: str | None = "development"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "UNLEASH_ADMIN_TOKEN": unleash.admin_token,
        "CHAPERONE_GATE_PUBLIC_KEY": PUBLIC_PEM,
    }
    where = ["--env", env_name] if env_name else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chaperone",
            "flags",
            *args,
            *where,
            "--backend",
            "unleash",
            "--unleash-url",
            unleash.url,
            "--state",
            str(tmp / "s.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def button_shown(clinic: LocalClinic) -> bool:
    seed = {
        "patients": [
            {
                "username": "u1",
                "password": "pw1",
                "display_name": "U One",
                "nhs_number": "900 000 0001",
                "notes": "",
            }
        ],
        "clinicians": [
            {"username": "d1", "password": "pw2", "display_name": "Dr D", "patients": ["u1"]}
        ],
        "appointments": [
            {
                "patient": "u1",
                "clinician": "d1",
                "reason": "check",
                "starts_at": "2026-12-01T09:00:00",
            }
        ],
    }
    support = {"X-Support-Token": clinic.support_token}
    with httpx.Client(base_url=clinic.url, timeout=10) as client:
        client.post("/_support/reset", headers=support).raise_for_status()
        made = client.post("/_support/seed", json=seed, headers=support).json()
        # The client keeps the session cookie login set.
        client.post("/api/login", json={"username": "u1", "password": "pw1"}).raise_for_status()
        page = client.get(f"/consultations/{made['appointments'][0]['consultation_id']}")
        return 'id="switch-to-video"' in page.text


def wait_for(clinic: LocalClinic, shown: bool, seconds: float = 20.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if button_shown(clinic) == shown:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"button shown={not shown} after {seconds}s")


def test_clinic_shows_and_hides_the_switch_with_the_flag(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    extra = ("--unleash-url", f"{unleash.url}/api", "--unleash-token", unleash.client_token)
    with local_clinic(extra_args=extra) as clinic:
        assert flags_cli(unleash, tmp_path, "disable", FLAG).returncode == 0
        wait_for(clinic, shown=False)
        policy_file = write_policy(tmp_path / "policy")
        pinned = flags_cli(
            unleash, tmp_path, "pin", FLAG, "--policy", str(policy_file), env_name=None
        )
        assert pinned.returncode == 0, pinned.stdout + pinned.stderr
        verdict = passing_verdict(tmp_path / "verdict.json", "b9", policy_file)
        enabled = flags_cli(
            unleash,
            tmp_path,
            "enable",
            FLAG,
            "--verdict",
            str(verdict),
            "--build",
            "b9",
            "--rollout",
            "100",  # the first stage (5%) might not include the one test patient
        )
        assert enabled.returncode == 0, enabled.stdout + enabled.stderr
        assert wait_for(clinic, shown=True) < 20
        assert flags_cli(unleash, tmp_path, "disable", FLAG).returncode == 0
        assert wait_for(clinic, shown=False) < 20
        assert unleash.admin_token not in enabled.stdout + enabled.stderr
