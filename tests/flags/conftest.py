from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from chaperone.errors import run_guarded
from flags.cli import app as flags_app
from flags.policy import DEFAULT_POLICY, Policy, load_policy, policy_hash
from flags.verdict import GateVerdict, write_verdict

GATE_KEY = "test-gate-key-0123456789"
BUILD = "build-2026.11.26-abc123"


@pytest.fixture(autouse=True)
def gate_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CHAPERONE_GATE_KEY", GATE_KEY)
    monkeypatch.setenv("USER", "tester")
    monkeypatch.delenv("UNLEASH_URL", raising=False)
    return GATE_KEY


@pytest.fixture
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


def make_verdict(policy: Policy, **overrides: Any) -> GateVerdict:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "verdict": "pass",
        "build": BUILD,
        "policy_hash": policy_hash(policy),
        "target": "http://127.0.0.1:8000",
        "flag": policy.flag,
        "suites": {suite: "pass" for suite in policy.required_suites},
        "findings": 0,
        "created_at": now - timedelta(minutes=5),
        "expires_at": now + timedelta(seconds=policy.verdict_ttl),
        "run_id": "run-1",
    }
    fields.update(overrides)
    return GateVerdict(**fields)


@pytest.fixture
def verdict_file(tmp_path: Path, policy: Policy) -> Callable[..., Path]:
    def write(**overrides: Any) -> Path:
        path = tmp_path / "verdict.json"
        write_verdict(make_verdict(policy, **overrides), path, GATE_KEY.encode())
        return path

    return write


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Runs `chaperone flags ...` in process, through the same error guard as the real CLI."""
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.add_typer(flags_app, name="flags")

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["chaperone", "flags", *args])
        code = run_guarded(root)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
