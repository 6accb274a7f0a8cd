"""`watch --stages` takes its stages only from a verdict that `flags enable` would accept: both
call `flags.verdict.verify_for_enable`, so a check added there reaches the watch too.

The watch is pointed at a port nobody listens on: a verdict it wrongly accepted would end in
"before the watch started" (exit 2), not in the refusal (exit 1) these tests expect.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

import flags.verdict
from chaperone.errors import run_guarded
from chaperone.watch_cmd import _pinned_stages, watch_command
from flags.backends.local import LocalBackend
from flags.policy import BoundPolicy
from flags.verdict import GateVerdict, build_digest_of
from harness.errors import GateRefused
from harness.local_clinic import free_port
from tests.flags.conftest import BUILD, CliResult

FLAG, ENV = "video-switch", "development"
Cli = Callable[..., CliResult]


@pytest.fixture
def live(state: Path) -> LocalBackend:
    """The flag is on in ENV for BUILD, as `flags enable` left it."""
    backend = LocalBackend(state)
    backend.enable(FLAG, ENV, 10, build_digest_of(BUILD))
    return backend


@pytest.fixture
def watch_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state: Path
) -> Cli:
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.command("watch")(watch_command)
    root.command("other")(lambda: None)  # keeps `watch` a sub-command, as in the real CLI
    nobody = f"http://127.0.0.1:{free_port()}"

    def run(verdict: Path) -> CliResult:
        capsys.readouterr()
        argv = ["--env", ENV, "--state", str(state), "--out", str(state.parent / "out")]
        argv += ["--target", nobody, "--support-token", "t", "--rounds", "1"]
        argv += ["--stages", "--verdict", str(verdict)]
        monkeypatch.setattr(sys, "argv", ["chaperone", "watch", *argv])
        code = run_guarded(root)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _enable(cli: Cli, state: Path, verdict: Path) -> CliResult:
    common = ["--env", ENV, "--backend", "local", "--state", str(state)]
    return cli("enable", FLAG, *common, "--verdict", str(verdict), "--build", BUILD)


def _expired(bound: BoundPolicy) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"expires_at": now - timedelta(minutes=1), "created_at": now - timedelta(hours=2)}


# Each is a verdict `flags enable` refuses; before the watch called verify_for_enable, only the
# revoked and the foreign-policy ones were refused by it.
REFUSED: list[tuple[str, Callable[[BoundPolicy], dict[str, object]], str]] = [
    ("expired", _expired, "expired"),
    ("failing", lambda b: {"verdict": "fail", "findings": 2}, "'fail' with 2"),
    ("missing suite", lambda b: {"suites": {"switch": "pass"}}, "missing"),
    ("another policy", lambda b: {"policy_hash": "0" * 64}, "does not match the policy pinned"),
    ("target", lambda b: {"target": "https://prod.example.org"}, "not an allowed staging"),
    ("another flag", lambda b: {"flag": "other-flag"}, "not 'video-switch'"),
]


@pytest.mark.parametrize(("case", "change", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_verdict_enable_refuses_is_refused_by_watch_alike(
    cli: Cli,
    watch_cli: Cli,
    live: LocalBackend,
    state: Path,
    verdict_file: Callable[..., Path],
    bound: BoundPolicy,
    case: str,
    change: Callable[[BoundPolicy], dict[str, object]],
    reason: str,
) -> None:
    verdict = verdict_file(**change(bound))
    enabled = _enable(cli, state, verdict)
    watched = watch_cli(verdict)
    assert enabled.code == 1 and reason in enabled.err, enabled.err
    assert (watched.code, watched.err) == (enabled.code, enabled.err)
    assert live.status(FLAG, ENV).rollout == 10  # neither moved the flag


def test_a_revoked_build_is_refused_by_watch_alike(
    cli: Cli, watch_cli: Cli, live: LocalBackend, state: Path, verdict_file: Callable[..., Path]
) -> None:
    verdict = verdict_file()
    live.revoke(FLAG, build_digest_of(BUILD))
    enabled = _enable(cli, state, verdict)
    watched = watch_cli(verdict)
    assert enabled.code == 1 and "revoked" in enabled.err
    assert (watched.code, watched.err) == (enabled.code, enabled.err)


def test_a_check_added_to_the_verification_reaches_the_watch(
    watch_cli: Cli,
    live: LocalBackend,
    verdict_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def new_check(verdict: GateVerdict, policy: object, request: object) -> None:
        raise GateRefused("a check added to verify_for_enable today", "fix it")

    monkeypatch.setattr(flags.verdict, "_passed", new_check)
    watched = watch_cli(verdict_file())
    assert watched.code == 1 and "a check added to verify_for_enable today" in watched.err


def test_the_verdict_of_another_build_than_the_live_one_gives_no_stages(
    live: LocalBackend, verdict_file: Callable[..., Path]
) -> None:
    verdict = verdict_file(build="build-other")
    with pytest.raises(GateRefused, match="not the build live in development"):
        _pinned_stages(live, FLAG, ENV, verdict, None)


def test_a_verdict_enable_accepts_gives_the_pinned_policys_stages(
    live: LocalBackend, verdict_file: Callable[..., Path], bound: BoundPolicy
) -> None:
    stages = _pinned_stages(live, FLAG, ENV, verdict_file(), None)
    assert stages == tuple(bound.policy.rollout_stages)
