"""The README's commands, as a newcomer types them: `chaperone clinic serve`, then
`chaperone run --target` at it, with no options beyond the README's. They agree on where the
clinic's e-mail and text messages go (harness.sinks.DEFAULT_LISTEN, moved for this test
session by CHAPERONE_SINKS in tests/conftest.py), so the run passes instead of ending in
`error` for mail that never reached the harness."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.sinks import SINKS_ENV
from tests.services.vampi import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SERVE = "chaperone clinic serve --port 8000 --data-dir /tmp/clinic"
RUN = "chaperone run --target http://127.0.0.1:8000 --suite switch --seed 7 --out out/"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`CHAPERONE_SUPPORT_TOKEN=… chaperone clinic serve` on a free port, as the README says."""
    assert SERVE in README and RUN in README
    env = {**os.environ, "CHAPERONE_SUPPORT_TOKEN": secrets.token_urlsafe(16)}
    assert env.get(SINKS_ENV)  # this session's ports, never the machine-wide default
    port = free_port()
    argv = SERVE.replace("--port 8000", f"--port {port}").replace(
        "/tmp/clinic", str(tmp_path / "c")
    )
    log = (tmp_path / "clinic.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", *argv.split()], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert process.poll() is None, (tmp_path / "clinic.log").read_text()
        yield url, env
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_the_readme_run_against_a_served_clinic_passes(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served
    argv = RUN.replace("http://127.0.0.1:8000", url).replace("out/", str(tmp_path / "out"))
    done = subprocess.run(
        [sys.executable, "-m", *argv.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "verdict: PASS" in done.stdout
