"""A real `chaperone controller serve` for tests: its own process on a free port, started with
the test's arguments and stopped when the test ends; and the `chaperone` CLI run as a person
would, with their controller token in the environment."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from tests.services.postgres import free_port


def run_chaperone(
    *args: str, token: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`chaperone ARGS` with `token` as CHAPERONE_CONTROLLER_TOKEN and no gate public key in
    the environment (the controller's pins decide, never a key the caller has)."""
    run_env = dict(os.environ if env is None else env)
    run_env.pop("CHAPERONE_GATE_PUBLIC_KEY", None)
    if token is not None:
        run_env["CHAPERONE_CONTROLLER_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=run_env,
    )


def chaperone(*args: str, token: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """`run_chaperone`, which must succeed: its stdout."""
    done = run_chaperone(*args, token=token, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def without_admin_token() -> dict[str, str]:
    """This process's environment without UNLEASH_ADMIN_TOKEN (a controller on the local
    backend must not hold it)."""
    return {k: v for k, v in os.environ.items() if k != "UNLEASH_ADMIN_TOKEN"}


def serve_argv(db: str, audit_key: Path, port: int, *args: str) -> list[str]:
    """The command line of `chaperone controller serve` on 127.0.0.1:`port`."""
    argv = [sys.executable, "-m", "chaperone", "controller", "serve", "--db", db]
    return [*argv, "--listen", f"127.0.0.1:{port}", "--audit-key", str(audit_key), *args]


@contextlib.contextmanager
def controller_serve(
    db: str,
    audit_key: Path,
    log: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    seconds: float = 60,
) -> Iterator[str]:
    """`chaperone controller serve --db DB --audit-key KEY ARGS` on a free port, its output in
    `log`; yields its URL once it answers HTTP, and stops it at the end."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            serve_argv(db, audit_key, port, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(without_admin_token() if env is None else env),
        )
    try:
        deadline = time.monotonic() + seconds
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                httpx.get(f"{url}/v1/alerts", timeout=1)  # any answer: the app is serving
                break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"controller did not start\n{log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
