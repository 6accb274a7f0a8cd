"""VAmPI (../shared/targets/VAmPI), an app nobody here wrote, started for real on 127.0.0.1.

Its code is copied to a temporary directory (it writes its SQLite file beside itself and
shared/ is read-only in CI) and run in its own virtualenv, built once per machine under the
cache directory and reused. `app.py` binds 0.0.0.0 in debug mode, so we never run it: we call
`config.vuln_app.run(host='127.0.0.1')` as its README says.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

SOURCE = Path(__file__).resolve().parents[3] / "shared" / "targets" / "VAmPI"
CACHE = Path(os.environ.get("CHAPERONE_CACHE", Path.home() / ".cache" / "chaperone"))


@dataclass(frozen=True)
class Vampi:
    url: str
    vulnerable: int
    token_seconds: int
    log: Path


def available() -> bool:
    return (SOURCE / "requirements.txt").is_file()


def _venv() -> Path:
    """VAmPI's own virtualenv, built once per machine; `ready` marks a finished build."""
    requirements = (SOURCE / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + sys.version.encode()).hexdigest()[:12]
    venv = CACHE / f"vampi-venv-{key}"
    python, ready = venv / "bin" / "python", venv / "ready"
    if ready.exists():
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"vampi-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers build it once
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
            subprocess.run([*pip, "-r", str(SOURCE / "requirements.txt")], check=True)
            ready.write_text("ok")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def vampi(vulnerable: int = 1, token_seconds: int = 60) -> Iterator[Vampi]:
    python = _venv()
    workdir = Path(tempfile.mkdtemp(prefix="vampi-"))
    app_dir = workdir / "VAmPI"
    shutil.copytree(SOURCE, app_dir)
    port = _free_port()
    log = workdir / "vampi.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "vulnerable": str(vulnerable),
        "tokentimetolive": str(token_seconds),
    }
    code = f"import config; config.vuln_app.run(host='127.0.0.1', port={port}, debug=False)"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python), "-c", code],
            cwd=app_dir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, log)
        httpx.get(f"{url}/createdb", timeout=30).raise_for_status()
        yield Vampi(url, vulnerable, token_seconds, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"VAmPI exited: {log.read_text(errors='replace')[-500:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/", timeout=1).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"VAmPI did not answer on {url} within {timeout}s")
