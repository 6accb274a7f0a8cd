"""Bad input to `clinic serve` is one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinic.cli import app
from clinic.faults import FAULTS

runner = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _serve(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path / "data"), *args])
    return result.exit_code, result.stderr


def _assert_one_line(message: str, *needles: str) -> None:
    assert "Traceback" not in message
    assert len(message.strip().splitlines()) == 1, message
    for needle in needles:
        assert needle in message, message


def test_faults_command_lists_every_fault() -> None:
    result = runner.invoke(app, ["faults"])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(FAULTS)


def test_unknown_fault_names_it_and_suggests(tmp_path: Path) -> None:
    code, err = _serve(tmp_path, "--faults", "recording-idor,switch-rase")
    assert code == 2
    _assert_one_line(err, "'switch-rase'", "did you mean 'switch-race'", "clinician-scope-leak")


def test_port_in_use(tmp_path: Path, busy_port: int) -> None:
    code, err = _serve(tmp_path, "--port", str(busy_port))
    assert code == 2
    _assert_one_line(err, f"port {busy_port}", "already in use", "--port")


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["serve", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 2
    _assert_one_line(result.stderr, "not writable", "--data-dir")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not a url", "bad database URL"),
        ("nosuchdb://x/y", "bad database URL"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot use database"),
    ],
)
def test_bad_database_url(tmp_path: Path, url: str, needle: str) -> None:
    code, err = _serve(tmp_path, "--db", url)
    assert code == 2
    _assert_one_line(err, needle, "--db")


def test_subprocess_reports_without_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "clinic.cli",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--faults",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    _assert_one_line(completed.stderr, "unknown fault 'nope'")


def test_unwritable_flags_file(tmp_path: Path) -> None:
    code, err = _serve(tmp_path, "--flags-file", str(tmp_path / "missing-dir" / "flags.json"))
    assert code == 2
    _assert_one_line(err, "cannot write", "--flags-file")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--smtp", "localhost"], ["'localhost' is not HOST:PORT", "--smtp HOST:PORT"]),
        (["--smtp", "127.0.0.1:99999"], ["is not HOST:PORT", "--smtp"]),
        (["--sms-webhook", "ftp://x/sms"], ["not an http(s) URL", "--sms-webhook"]),
    ],
)
def test_bad_notification_targets(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    code, err = _serve(tmp_path, *args)
    assert code == 2
    _assert_one_line(err, *needles)


def test_a_header_mode_clinic_does_not_load_the_media_stack() -> None:
    """aiortc, PyAV and numpy load only for `--media real`: every selftest run and header-mode
    gate starts a clinic, and they were a third of its import time."""
    import subprocess
    import sys

    probe = (
        "import sys, clinic.cli, clinic.app; "
        "print(sorted(m for m in ('aiortc', 'av', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
