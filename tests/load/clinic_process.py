"""The real clinic as a subprocess (`python -m chaperone clinic serve`), for integration tests."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 40.0


@dataclass
class Clinic:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def clinic_process(tmp: Path, faults: str = "") -> Iterator[Clinic]:
    port, token = _free_port(), secrets.token_hex(8)
    cmd = [sys.executable, "-m", "chaperone", "clinic", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(tmp / "data"), "--support-token", token]
    if faults:
        cmd += ["--faults", faults]
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "clinic.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    clinic = Clinic(f"http://127.0.0.1:{port}", token, process, log)
    try:
        _wait_healthy(clinic)
        yield clinic
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(clinic: Clinic) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if clinic.process.poll() is not None:
            raise RuntimeError(f"clinic exited: {clinic.log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{clinic.url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"clinic did not become healthy: {clinic.log.read_text(errors='replace')}")
