"""Starts the reference clinic as a subprocess: the embedded default target.

`chaperone run` / `gate` / `demo` without `--target` use it, so the product works on a fresh
machine with no staging deployment. It is a real server on 127.0.0.1 (uvicorn, SQLite in a
temporary data dir), not an in-process fake.

It never outlives its parent: the context manager stops it on any exit, and the kernel sends it
SIGTERM when the parent dies without a chance to (kill -9), through PR_SET_PDEATHSIG. Under a
fork server (a selftest's, named by CHAPERONE_ZYGOTE) the server starts it instead, already
imported, and stops it when this process's connection to the server closes, however it dies.

It starts with a scrubbed environment (harness.childenv): only its own support token, no gate
key and no Unleash admin token.
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

from harness.childenv import child_env
from harness.errors import InfrastructureError
from harness.parentdeath import preexec_hook
from harness.zygote_client import ZYGOTE_ENV, ForkedProcess, ZygoteUnavailable, spawn

# Started the ordinary way, or by a fork server (harness.zygote) when one is named in the
# environment: a selftest's runs start their clinics from one that has already imported it.
Process = subprocess.Popen[bytes] | ForkedProcess


@dataclass(frozen=True)
class LocalClinic:
    url: str
    support_token: str
    data_dir: Path
    flags_file: Path
    process: Process
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: Process, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    # One client for the whole wait: each new client builds a TLS context (tens of ms of CPU),
    # taken from the clinic while it starts.
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-400:].strip().replace("\n", " | ")
                raise InfrastructureError(
                    f"the local clinic exited with code {process.returncode}: {tail}",
                    "run `chaperone clinic serve` by hand to see why",
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/healthz").status_code == 200:
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
        # Off unless wired: `clinic serve` otherwise sends to the default sinks, where another
        # run on this machine may be listening.
        *([] if "--smtp" in extra_args else ["--smtp", "off"]),
        *([] if "--sms-webhook" in extra_args else ["--sms-webhook", "off"]),
        *extra_args,
    ]
    log = directory / "clinic.log"
    env = child_env({"CHAPERONE_SUPPORT_TOKEN": token})
    with log.open("wb") as sink:
        process = _start(argv, env, sink.fileno())
    clinic = LocalClinic(f"http://127.0.0.1:{port}", token, directory, flags, process, log)
    try:
        _wait_healthy(clinic.url, process, log, timeout)
        yield clinic
    finally:
        stop(process)
        if isinstance(process, ForkedProcess):
            process.close()
        if owned:
            shutil.rmtree(directory, ignore_errors=True)


def _start(argv: list[str], env: dict[str, str], log: int) -> Process:
    """Its own session, output to `log`, dying with this process: by the fork server named in
    the environment (which stops it when this process goes), else as a subprocess."""
    zygote = os.environ.get(ZYGOTE_ENV)
    if zygote:
        try:
            return spawn(zygote, argv, env, stdout=log, stderr=log)
        except ZygoteUnavailable as exc:  # slower, not different: say so and go on
            note = f"note: {exc.one_line()}; the clinic was started the ordinary way\n"
            os.write(log, note.encode())
            sys.stderr.write(note)
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=preexec_hook(),
    )


def stop(process: Process) -> None:
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
