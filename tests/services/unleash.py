"""A throwaway Unleash server (the real unleash-server npm package) for integration tests.

Each server gets a fresh PostgreSQL database because Unleash only creates the INIT_*_API_TOKENS
on an empty api_tokens table. The package is installed by .ci/install-unleash.sh into a cache
directory; a failed install or start raises, so the test fails instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.services.postgres import PostgresServer, free_port

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / ".ci" / "install-unleash.sh"


def cache_dir() -> Path:
    base = os.environ.get("CHAPERONE_CACHE") or str(Path.home() / ".cache" / "chaperone")
    return Path(base) / "unleash"


def server_script() -> Path:
    return cache_dir() / "node_modules" / "unleash-server" / "dist" / "server.js"


def ensure_installed() -> Path:
    script = server_script()
    if not script.exists():
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0 or not script.exists():
            raise RuntimeError(f"installing unleash-server failed:\n{done.stdout}\n{done.stderr}")
    return script


@dataclass(frozen=True)
class UnleashServer:
    url: str
    admin_token: str
    client_token: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"unleash-server exited with {proc.returncode}:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(
        f"unleash-server did not become healthy at {url}:\n"
        f"{log_path.read_text(errors='replace')[-4000:]}"
    )


def _env(pg_url: str, port: int, admin: str, client: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": pg_url,
        "DATABASE_SSL": "false",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "INIT_ADMIN_API_TOKENS": admin,
        "INIT_BACKEND_API_TOKENS": client,
        "SEND_TELEMETRY": "false",
        "CHECK_VERSION": "false",
        "LOG_LEVEL": "warn",
        "UNLEASH_URL": f"http://127.0.0.1:{port}",
        "TZ": "UTC",
    }


@contextlib.contextmanager
def unleash_server(pg: PostgresServer) -> Iterator[UnleashServer]:
    script = ensure_installed()
    pg_url = pg.create_database(f"unleash_{secrets.token_hex(4)}")
    port = free_port()
    admin = f"*:*.{secrets.token_hex(16)}"
    client = f"default:development.{secrets.token_hex(16)}"
    log_path = Path(tempfile.mkstemp(prefix="chaperone-unleash-", suffix=".log")[1])
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["node", str(script)],
            env=_env(pg_url, port, admin, client),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cache_dir(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log_path)
        yield UnleashServer(url=url, admin_token=admin, client_token=client, log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
    # Only reached when nothing failed; a failed run keeps the log for the error message.
    log_path.unlink(missing_ok=True)
