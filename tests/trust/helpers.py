"""What the trust tests share: `chaperone` in a child process with a clean environment, the
one-line-error check, `chaperone gate` with the test key, `flags enable` on the local backend,
and a verdict's predicate."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flags.backends.local import LocalBackend
from tests.flags.conftest import BUILD, SIGNING

FLAG = "video-switch"
SIGNING_PEM = SIGNING.pem().decode()


def chaperone(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """`chaperone ARGS` without any CHAPERONE_* or UNLEASH_* variable but those in `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHAPERONE_", "UNLEASH_"))}
    return subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **env},
    )


def gate(
    tmp_path: Path, policy: Path, *args: str, key: str = SIGNING_PEM, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`chaperone gate --build b --policy POLICY --out TMP/o ARGS` signing with `key`."""
    out = str(tmp_path / "o")
    return chaperone(
        "gate", "--build", "b", "--policy", str(policy), "--out", out, *args,
        CHAPERONE_GATE_SIGNING_KEY=key, timeout=timeout,
    )  # fmt: skip


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def enable(cli: Any, state: Path, verdict: Path, env: str = "development", *extra: str) -> Any:
    """`chaperone flags enable` on the local backend, in process (the `cli` fixture)."""
    return cli(
        "enable", FLAG, "--env", env, "--state", str(state), "--verdict", str(verdict),
        "--build", BUILD, *extra,
    )  # fmt: skip


def is_on(state: Path, env: str = "development") -> bool:
    return LocalBackend(state).status(FLAG, env).enabled


def predicate(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))
    return dict(document["predicate"])
