from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from chaperone.errors import run_guarded
from chaperone.flags_cmd import app as flags_app
from flags.backends.local import LocalBackend
from flags.keys import SigningKey, new_signing_key
from flags.policy import DEFAULT_POLICY, BoundPolicy, Policy, bind_policy
from flags.verdict import GateVerdict, build_digest_of, write_verdict

BUILD = "build-2026.11.26-abc123"
# One key pair for the whole session: the gate's private half signs test verdicts, the public
# half is all the commands under test get.
SIGNING: SigningKey = new_signing_key()
PUBLIC_PEM = SIGNING.public().pem().decode()
# The clinic's own profile, copied next to test policies: its bytes go into the policy digest,
# and a gate run drives the target through it.
PROFILE_TEXT = (
    Path(__file__).resolve().parents[2] / "harness" / "profiles" / "clinic.yaml"
).read_text()


@pytest.fixture(autouse=True)
def gate_keys(monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    monkeypatch.setenv("CHAPERONE_GATE_PUBLIC_KEY", PUBLIC_PEM)
    monkeypatch.delenv("CHAPERONE_GATE_SIGNING_KEY", raising=False)
    monkeypatch.delenv("UNLEASH_URL", raising=False)
    return SIGNING


def write_policy(directory: Path, **changes: Any) -> Path:
    """The shipped release policy, pointed at a profile file written next to it."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw.update({"profile": "./profile.yaml", **changes})
    (directory / "profile.yaml").write_text(PROFILE_TEXT)
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "policy")


@pytest.fixture
def bound(policy_file: Path) -> BoundPolicy:
    return bind_policy(policy_file)


@pytest.fixture
def policy(bound: BoundPolicy) -> Policy:
    return bound.policy


def make_verdict(bound: BoundPolicy, **overrides: Any) -> GateVerdict:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "verdict": "pass",
        "build": BUILD,
        "build_digest": build_digest_of(overrides.get("build", BUILD)),
        "policy_hash": bound.digest,
        "policy_uri": "policy.yaml",
        "policy": bound.document,
        "profile_uri": bound.profile_uri,
        "profile_sha256": bound.profile_sha256,
        "target": "https://clinic.staging.example",
        "flag": bound.policy.flag,
        "reference": False,
        "suites": {suite: "pass" for suite in bound.policy.required_suites},
        "findings": 0,
        "created_at": now - timedelta(minutes=5),
        "expires_at": now + timedelta(seconds=bound.policy.verdict_ttl - 600),
        "run_id": "run-1",
    }
    fields.update(overrides)
    return GateVerdict(**fields)


@pytest.fixture
def verdict_file(tmp_path: Path, bound: BoundPolicy) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def write(key: SigningKey = SIGNING, **overrides: Any) -> Path:
        path = tmp_path / f"verdict-{next(counter)}.json"
        write_verdict(make_verdict(bound, **overrides), path, key)
        return path

    return write


@pytest.fixture
def state(tmp_path: Path, bound: BoundPolicy) -> Path:
    """A local backend whose flag has the test policy pinned (set directly, not audited)."""
    path = tmp_path / "flags-state.json"
    LocalBackend(path).set_pin(bound.policy.flag, bound.digest, bound.policy.environments)
    return path


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
