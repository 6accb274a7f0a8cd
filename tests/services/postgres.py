"""A throwaway PostgreSQL cluster for integration tests.

initdb refuses to run as root, so the cluster is created and started as the `postgres` system
user through `runuser`. It listens on 127.0.0.1 at a free port with trust auth, and is deleted
on stop. A missing server binary is an error, never a skip: CI must prove the real thing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; run `apt-get install -y postgresql`"
        )
    return found


def _as_postgres(*argv: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return list(argv)


@dataclass
class PostgresServer:
    port: int
    datadir: str

    @property
    def url(self) -> str:
        """SQLAlchemy / libpq URL of the default database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        subprocess.run(
            _as_postgres(
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                f'CREATE DATABASE "{name}"',
            ),
            check=True,
            capture_output=True,
            timeout=30,
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(_bin("pg_ctl"), "-D", self.datadir, "-m", "immediate", "stop"),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(os.path.dirname(self.datadir), ignore_errors=True)


def start_postgres() -> PostgresServer:
    base = tempfile.mkdtemp(prefix="chaperone-pg-")
    os.chmod(base, 0o777)
    datadir = os.path.join(base, "data")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            _bin("initdb"),
            "-D",
            datadir,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_postgres(
            _bin("pg_ctl"),
            "-D",
            datadir,
            "-o",
            opts,
            "-l",
            os.path.join(base, "log"),
            "-w",
            "-t",
            "60",
            "start",
        ),
        check=True,
        capture_output=True,
        timeout=90,
    )
    server = PostgresServer(port=port, datadir=datadir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"PostgreSQL did not accept connections on port {port}")


@contextlib.contextmanager
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
