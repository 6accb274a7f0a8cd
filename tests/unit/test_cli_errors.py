"""A user's mistake gets one line naming the problem and the fix, exit code 2, no traceback.
Each case runs the real `chaperone` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flags.keys import new_signing_key
from tests.flags.conftest import write_policy

SIGNING_PEM = new_signing_key().pem().decode()


def chaperone(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAPERONE_")}
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    text = done.stderr.strip()
    for needle in needles:
        assert needle in text, text


def test_bad_target_url(tmp_path: Path) -> None:
    done = chaperone(
        "run", "--target", "clinic.local", "--support-token", "t", "--out", str(tmp_path)
    )
    assert_one_line_error(done, "not an http(s) URL", "--target http://")
    assert len(done.stderr.strip().splitlines()) == 1


def test_target_without_support_token(tmp_path: Path) -> None:
    done = chaperone("run", "--target", "http://127.0.0.1:9", "--out", str(tmp_path))
    assert_one_line_error(done, "support token", "CHAPERONE_SUPPORT_TOKEN")


def test_unreachable_target_is_exit_2_with_an_error_report(tmp_path: Path) -> None:
    done = chaperone(
        "run", "--target", "http://127.0.0.1:9", "--support-token", "t", "--out", str(tmp_path)
    )
    assert done.returncode == 2
    assert '"verdict": "error"' in (tmp_path / "report.json").read_text()


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = chaperone(
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--support-token",
        "t",
        "--out",
        str(blocker / "sub"),
    )
    assert_one_line_error(done, "cannot write to --out", "writable directory")


def test_misspelt_suite_gets_a_suggestion(tmp_path: Path) -> None:
    done = chaperone("run", "--suite", "swtich", "--out", str(tmp_path))
    assert_one_line_error(done, "unknown suite 'swtich'", "did you mean 'switch'?")


@pytest.mark.parametrize("patients", ["1", "-3"])
def test_too_few_patients(tmp_path: Path, patients: str) -> None:
    done = chaperone("run", "--patients", patients, "--out", str(tmp_path))
    assert_one_line_error(done, "--patients")


def test_gate_without_signing_key(tmp_path: Path) -> None:
    done = chaperone("gate", "--build", "b1", "--out", str(tmp_path))
    assert_one_line_error(done, "CHAPERONE_GATE_SIGNING_KEY is not set", "keys generate")


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("https://clinic.production.example", "looks like production"),
        ("https://clinic.example.com", "not in the policy's allowed_targets"),
    ],
)
def test_gate_refuses_a_target_outside_allowed_targets_before_any_traffic(
    tmp_path: Path, target: str, needle: str
) -> None:
    done = chaperone(
        "gate",
        "--build",
        "b1",
        "--policy",
        str(write_policy(tmp_path / "policy")),
        "--target",
        target,
        "--out",
        str(tmp_path),
        CHAPERONE_GATE_SIGNING_KEY=SIGNING_PEM,
        CHAPERONE_SUPPORT_TOKEN="t",
    )
    assert_one_line_error(done, needle)
    assert not (tmp_path / "report.json").exists()


def test_gate_with_a_broken_policy(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("flag: video-switch\nrequried_suites: [switch]\n")
    done = chaperone(
        "gate",
        "--build",
        "b1",
        "--policy",
        str(policy),
        "--out",
        str(tmp_path),
        CHAPERONE_GATE_SIGNING_KEY=SIGNING_PEM,
    )
    assert_one_line_error(done, "did you mean 'required_suites'?")


def test_replay_of_a_missing_report(tmp_path: Path) -> None:
    done = chaperone("replay", str(tmp_path / "nope.json"), "--finding", "1")
    assert_one_line_error(done, "does not exist")


def test_help_teaches() -> None:
    done = chaperone("--help")
    assert done.returncode == 0
    for command in (
        "demo",
        "run",
        "gate",
        "replay",
        "watch",
        "flags",
        "keys",
        "clinic",
        "selftest",
    ):
        assert command in done.stdout
    run_help = chaperone("run", "--help").stdout
    assert "Examples" in run_help and "Exit codes" in run_help


def test_the_patients_alias_needs_a_patient_role(tmp_path: Path) -> None:
    vampi = Path(__file__).resolve().parents[2] / "examples" / "targets" / "vampi.yaml"
    done = chaperone(
        "run", "--profile", str(vampi), "--target", "http://127.0.0.1:9", "--patients", "6",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert_one_line_error(done, "--patients", "--population ROLE=6")
