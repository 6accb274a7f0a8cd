"""The trust tests reuse the flags tests' fixtures: a key pair, a policy with its own
profile file, a pinned local backend, signed verdicts and an in-process `chaperone flags`; and
`gate_in_process`, `chaperone gate` with its run replaced."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.flags.conftest import (  # noqa: F401 (pytest finds fixtures by name)
    BUILD,
    SIGNING,
    bound,
    cli,
    gate_keys,
    policy,
    policy_file,
    state,
    verdict_file,
)


@pytest.fixture
def gate_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`chaperone gate` in process with the run itself replaced by a passing result (unit
    test: the suites are not what H1 is about; which verdict the gate signs is)."""
    from chaperone import gate_cmd, gating
    from tests.unit.test_gate_logic import ALL_PASS, result_of

    @contextlib.contextmanager
    def fake_target(target, token, faults, *_profile_and_sinks):
        yield (target or "http://127.0.0.1:1"), "token"

    monkeypatch.setattr(gate_cmd, "target_of", fake_target)
    # No probe of the fake target's health read: it is not running (the run is replaced).
    monkeypatch.setattr(gate_cmd, "reports_reference", lambda url, loaded: "reference" in url)
    monkeypatch.setattr(gating, "execute", lambda request, reporter: (result_of(ALL_PASS), {}))
    monkeypatch.setenv("CHAPERONE_GATE_SIGNING_KEY", SIGNING.pem().decode())

    def run(policy_path: Path, target: str | None) -> Path:
        out = tmp_path / ("ref" if target is None else "release")
        gate_cmd.gate_command(
            build=BUILD,
            policy=policy_path,
            target=target,
            support_token="t",
            out=out,
            seed=0,
            population=None,
            patients=None,
            faults="",
            timeout=900.0,
            load_seconds=20.0,
            workers=0,
            signing_key_file=None,
            build_digest=None,
            enable=False,
            env="development",
            backend=gate_cmd.BackendKind.local,
            state=tmp_path / "unused.json",
            flags_dir=None,
            unleash_url="",
            rollout=None,
        )
        return out / "verdict.json"

    return run
