from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flags.policy import Policy
from flags.verdict import read_signed, verify_for_enable, write_verdict
from harness.errors import GateRefused, UsageError
from tests.flags.conftest import BUILD, GATE_KEY, make_verdict

NOW = datetime.now(UTC)


def test_genuine_passing_verdict_is_accepted(
    verdict_file: Callable[..., Path], policy: Policy
) -> None:
    verdict = verify_for_enable(verdict_file(), BUILD, policy, NOW)
    assert verdict.verdict == "pass"
    assert verdict.build == BUILD


def test_altered_verdict_is_refused_as_forged(
    verdict_file: Callable[..., Path], policy: Policy
) -> None:
    path = verdict_file(verdict="fail", findings=3)
    document = json.loads(path.read_text())
    document.update(verdict="pass", findings=0)  # flip the result, keep the old signature
    path.write_text(json.dumps(document))
    with pytest.raises(GateRefused, match="bad signature"):
        verify_for_enable(path, BUILD, policy, NOW)


def test_verdict_signed_with_another_key_is_forged(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "verdict.json"
    write_verdict(make_verdict(policy), path, b"attacker-key")
    with pytest.raises(GateRefused, match="forged"):
        verify_for_enable(path, BUILD, policy, NOW)


def test_unsigned_verdict_is_forged(verdict_file: Callable[..., Path], policy: Policy) -> None:
    path = verdict_file()
    document = json.loads(path.read_text())
    del document["signature"]
    path.write_text(json.dumps(document))
    with pytest.raises(GateRefused, match="bad signature"):
        verify_for_enable(path, BUILD, policy, NOW)


@pytest.mark.parametrize(
    ("overrides", "build", "reason"),
    [
        ({"expires_at": NOW - timedelta(seconds=1)}, BUILD, "expired"),
        ({}, "build-other", "not 'build-other'"),
        ({"policy_hash": "0" * 64}, BUILD, "policy hash"),
        ({"verdict": "fail", "findings": 2}, BUILD, "'fail' with 2 finding"),
        ({"verdict": "error"}, BUILD, "'error'"),
        ({"findings": 1}, BUILD, "1 finding"),
        ({"suites": {"switch": "pass"}}, BUILD, "required suite 'access' is missing"),
        (
            {
                "suites": {
                    "switch": "pass",
                    "access": "fail",
                    "stateful": "pass",
                    "load": "pass",
                    "browser": "pass",
                }
            },
            BUILD,
            "required suite 'access' is fail",
        ),
        ({"target": "https://clinic.example.com"}, BUILD, "not an allowed staging target"),
        ({"flag": "other-flag"}, BUILD, "flag 'other-flag'"),
        ({"created_at": NOW + timedelta(hours=1)}, BUILD, "in the future"),
    ],
)
def test_unsafe_verdicts_are_refused(
    verdict_file: Callable[..., Path], policy: Policy, overrides: dict, build: str, reason: str
) -> None:
    with pytest.raises(GateRefused, match=reason):
        verify_for_enable(verdict_file(**overrides), build, policy, NOW)


def test_unreadable_verdict_is_refused(tmp_path: Path, policy: Policy) -> None:
    with pytest.raises(GateRefused, match="unreadable"):
        verify_for_enable(tmp_path / "missing.json", BUILD, policy, NOW)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(GateRefused, match="unreadable"):
        verify_for_enable(garbage, BUILD, policy, NOW)


def test_missing_key_is_a_usage_error(
    verdict_file: Callable[..., Path], policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = verdict_file()
    monkeypatch.delenv("CHAPERONE_GATE_KEY")
    with pytest.raises(UsageError, match="CHAPERONE_GATE_KEY is not set"):
        read_signed(path)
    with pytest.raises(UsageError, match="export CHAPERONE_GATE_KEY"):
        write_verdict(make_verdict(policy), path)


def test_signature_does_not_leak_key(verdict_file: Callable[..., Path]) -> None:
    assert GATE_KEY not in verdict_file().read_text()
