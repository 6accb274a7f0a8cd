"""Starts the reference clinic as a subprocess: the embedded default target.

`chaperone run` / `gate` / `demo` without `--target` use it, so the product works on a fresh
machine with no staging deployment. It is a real server on 127.0.0.1 (uvicorn, SQLite in a
temporary data dir), not an in-process fake.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.errors import InfrastructureError


@dataclass(frozen=True)
class LocalClinic:
    url: str
    support_token: str
    data_dir: Path
    flags_file: Path
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-400:].strip().replace("\n", " | ")
            raise InfrastructureError(
                f"the local clinic exited with code {process.returncode}: {tail}",
                "run `chaperone clinic serve` by hand to see why",
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise InfrastructureError(
        f"the local clinic did not become healthy within {timeout:.0f}s", f"see {log}"
    )


@contextlib.contextmanager
def local_clinic(
    faults: Sequence[str] = (),
    data_dir: Path | None = None,
    flags_file: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
) -> Iterator[LocalClinic]:
    owned = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="chaperone-clinic-")) if owned else data_dir
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_urlsafe(16)
    flags = flags_file or directory / "flags.json"
    argv = [
        sys.executable,
        "-m",
        "chaperone",
        "clinic",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(directory),
        # A real Unleash (--unleash-url in extra_args) replaces the bootstrap file.
        *([] if "--unleash-url" in extra_args else ["--flags-file", str(flags)]),
        *(["--faults", ",".join(faults)] if faults else []),
        *extra_args,
    ]
    log = directory / "clinic.log"
    env = {**os.environ, "CHAPERONE_SUPPORT_TOKEN": token}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    clinic = LocalClinic(f"http://127.0.0.1:{port}", token, directory, flags, process, log)
    try:
        _wait_healthy(clinic.url, process, log, timeout)
        yield clinic
    finally:
        stop(process)
        if owned:
            shutil.rmtree(directory, ignore_errors=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
