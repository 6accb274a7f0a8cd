"""Running the controller: its flag backend, its checkpoint writer, and the HTTP server."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from controller import audit
from controller.decisions import Controller
from flags.backends.base import FlagBackend
from flags.keys import SigningKey
from harness.errors import UsageError


@dataclass(frozen=True)
class Listen:
    host: str
    port: int


def parse_listen(text: str) -> Listen:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen '{text}' is not HOST:PORT", "e.g. --listen 127.0.0.1:8700")
    return Listen(host, int(port))


def make_backend(kind: str, state: Path | None, unleash_url: str | None) -> FlagBackend:
    if kind == "local":
        from flags.backends.local import LocalBackend

        if state is None:
            raise UsageError("--backend local needs --state FILE", "name the flag state file")
        return LocalBackend(state)
    if kind == "unleash":
        from flags.backends.unleash import UnleashBackend

        if not unleash_url:
            raise UsageError("--backend unleash needs --unleash-url", "e.g. http://127.0.0.1:4242")
        # The admin token comes from UNLEASH_ADMIN_TOKEN in the controller's own environment:
        # nobody else needs it once the controller runs.
        return UnleashBackend(unleash_url)
    raise UsageError(f"--backend '{kind}' is not local or unleash", "pick one of those")


class CheckpointWriter:
    """Writes the audit head to `path` (`-`: stdout) every `interval` seconds, and once more
    on stop."""

    def __init__(self, controller: Controller, key: SigningKey, path: Path, interval: float):
        self._controller, self._key, self._path, self._interval = controller, key, path, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
        self._last: int | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._write()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._write()

    def _write(self) -> None:
        point = audit.write_checkpoint(self._controller.engine, self._key, self._path, self._last)
        if point is not None:
            self._last = point.seq
