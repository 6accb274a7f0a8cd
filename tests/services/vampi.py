"""VAmPI (an outside app, ../shared/targets/VAmPI) as a real server for integration tests.

It runs from a copy of its source (it writes its SQLite file beside its code), in a virtualenv
of its own (its pinned Flask and connexion must not meet ours), bound to 127.0.0.1 on a free
port. The virtualenv is built once per requirements file and kept in the user's cache
directory, because installing it takes longer than most tests. A missing source tree or a failed
install is an error, never a skip: the test must prove the real thing.
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

# ../shared/targets/VAmPI next to the repository (as on the development and CI machines).
_BESIDE = Path(__file__).resolve().parents[3] / "shared" / "targets" / "VAmPI"
SOURCE = Path(os.environ.get("CHAPERONE_VAMPI_SOURCE", str(_BESIDE)))
PROFILE = Path(__file__).resolve().parents[2] / "examples" / "targets" / "vampi.yaml"


@dataclass(frozen=True)
class Vampi:
    url: str
    vulnerable: bool
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chaperone"


def vampi_python() -> Path:
    """The interpreter of VAmPI's own virtualenv, built on first use (under a file lock, so
    parallel test sessions build it once)."""
    requirements = SOURCE / "requirements.txt"
    if not requirements.is_file():
        raise RuntimeError(f"VAmPI's source is not at {SOURCE}; set CHAPERONE_VAMPI_SOURCE")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = _cache_dir() / f"vampi-venv-{digest}"
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").is_file():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
            capture_output=True,
            timeout=600,
        )
        if install.returncode != 0:
            tail = install.stderr.decode(errors="replace")[-600:]
            raise RuntimeError(f"installing VAmPI's requirements failed: {tail}")
        (venv / ".complete").write_text("ok\n")
    return python


@contextlib.contextmanager
def vampi(tmp: Path, *, vulnerable: bool = True, token_ttl: int = 60) -> Iterator[Vampi]:
    """A running VAmPI on 127.0.0.1; its database is created (GET /createdb) before it yields."""
    python = vampi_python()
    home = tmp / "VAmPI"
    shutil.copytree(SOURCE, home, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    port = free_port()
    log = tmp / "vampi.log"
    env = {
        **os.environ,
        "vulnerable": "1" if vulnerable else "0",
        "tokentimetolive": str(token_ttl),
    }
    # Its app.py runs Flask's debug server on 0.0.0.0; this binds loopback only, without debug.
    code = f"import config; config.vuln_app.run(host='127.0.0.1', port={port}, debug=False)"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(python), "-c", code],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, process, log, vulnerable)
        _create_db(url)
        yield Vampi(url, vulnerable, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create_db(url: str) -> None:
    """VAmPI's /createdb has answered 500 once under load (a SQLite lock): try a few times."""
    for attempt in range(5):
        reply = httpx.get(f"{url}/createdb", timeout=30)
        if reply.status_code == 200:
            return
        time.sleep(0.5 * (attempt + 1))
    reply.raise_for_status()


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path, vulnerable: bool) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-600:]
            raise RuntimeError(f"VAmPI exited with code {process.returncode}: {tail}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            reply = httpx.get(url + "/", timeout=1)
            if reply.status_code == 200:
                if int(reply.json().get("vulnerable", -1)) != int(vulnerable):
                    raise RuntimeError(f"VAmPI at {url} did not start in the asked mode")
                return
        time.sleep(0.2)
    raise RuntimeError(f"VAmPI did not answer at {url} within 60 s; see {log}")


@contextlib.contextmanager
def running_vampi(vulnerable: bool = True, token_ttl: int = 60) -> Iterator[str]:
    """`vampi()` in its own temporary directory, yielding only the URL."""
    with (
        tempfile.TemporaryDirectory(prefix="vampi-") as tmp,
        vampi(Path(tmp), vulnerable=vulnerable, token_ttl=token_ttl) as app,
    ):
        yield app.url
