"""VAmPI (an outside app, ../shared/targets/VAmPI) running on 127.0.0.1 for integration tests.

As ../shared/targets/README.md says: the app is copied to a temporary directory (it writes its
SQLite file beside its code), run from its own virtualenv (its pinned Flask/connexion must not
meet ours), bound to loopback on a free port, never through its `app.py` (which binds 0.0.0.0).
The virtualenv is built once per requirements file and reused (`CHAPERONE_VAMPI_VENV` moves
it). A missing VAmPI or a failed install is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VAMPI_DIR = Path(os.environ.get("CHAPERONE_VAMPI_DIR", ROOT.parent / "shared/targets/VAmPI"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """Our environment without what would make VAmPI's interpreter see our packages."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def vampi_venv() -> Path:
    """A virtualenv with VAmPI's requirements, built on first use."""
    requirements = VAMPI_DIR / "requirements.txt"
    if not requirements.is_file():
        raise RuntimeError(f"VAmPI is not at {VAMPI_DIR}; set CHAPERONE_VAMPI_DIR")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    default = Path(tempfile.gettempdir()) / f"chaperone-vampi-venv-{digest}"
    venv = Path(os.environ.get("CHAPERONE_VAMPI_VENV", default))
    python = venv / "bin" / "python"
    if (venv / ".ready").is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env())
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
        check=True,
        timeout=600,
        env=_clean_env(),
    )
    (venv / ".ready").write_text("ok")
    return python


@contextlib.contextmanager
def running_vampi(vulnerable: bool = True, token_ttl: int = 60) -> Iterator[str]:
    """Yield the base URL of a fresh VAmPI with its database created."""
    python = vampi_venv()
    workdir = Path(tempfile.mkdtemp(prefix="chaperone-vampi-"))
    app = workdir / "VAmPI"
    shutil.copytree(VAMPI_DIR, app, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    port = free_port()
    env = {
        **_clean_env(),
        "vulnerable": "1" if vulnerable else "0",
        "tokentimetolive": str(token_ttl),
    }
    code = f"import config; config.vuln_app.run(host='127.0.0.1', port={port}, debug=False)"
    log = workdir / "vampi.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python), "-c", code],
            cwd=app,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, log)
        _create_db(url, log)
        yield url
    except BaseException:
        sys.stderr.write(f"VAmPI's log:\n{log.read_text(errors='replace')[-4000:]}\n")
        raise
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"VAmPI exited: {log.read_text(errors='replace')[-600:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"VAmPI did not answer within {timeout:.0f}s; see {log}")


def _create_db(url: str, log: Path) -> None:
    for _ in range(3):  # its first answer is sometimes a 500 while SQLite sets up
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/createdb", timeout=30).status_code == 200:
                return
        time.sleep(1)
    raise RuntimeError(f"VAmPI's /createdb failed: {log.read_text(errors='replace')[-600:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
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
