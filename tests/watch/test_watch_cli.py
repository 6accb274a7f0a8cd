"""`chaperone watch` usage and fail-fast paths, in process, through the real error guard."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from chaperone.errors import run_guarded
from chaperone.watch_cmd import watch_command
from flags.backends.local import LocalBackend
from harness.local_clinic import free_port

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.command("watch")(watch_command)
    root.command("other")(lambda: None)  # keeps `watch` a sub-command, as in the real CLI
    monkeypatch.delenv("CHAPERONE_SUPPORT_TOKEN", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        state = ["--state", str(tmp_path / "flags-state.json"), "--out", str(tmp_path / "out")]
        monkeypatch.setattr(sys, "argv", ["chaperone", "watch", *state, *args])
        code = run_guarded(root)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_local_clinic_needs_the_local_backend(cli: Cli) -> None:
    code, _, err = cli("--backend", "unleash")
    assert code == 2
    assert err.strip().count("\n") == 0 and "pass --backend local" in err


def test_stages_come_from_a_verdict_under_the_pin_not_from_the_caller(cli: Cli) -> None:
    code, _, err = cli("--stages")
    assert code == 2 and "pass --verdict" in err


def test_unreachable_target_at_start_leaves_the_flag_alone(cli: Cli, tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "flags-state.json")
    backend.enable("video-switch", "development", 100)
    target = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("--target", target, "--support-token", "t0k3n", "--rounds", "1")

    assert code == 2
    assert "before the watch started; the flag was left as it is" in err
    assert backend.status("video-switch", "development").enabled is True
    assert "t0k3n" not in err
