"""Which backend a command means, and opening it: the local state file or an Unleash server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from flags.backends.base import FlagBackend
from flags.backends.local import LocalBackend
from flags.backends.unleash import UnleashBackend

DEFAULT_UNLEASH = "http://127.0.0.1:4242"


class BackendKind(StrEnum):
    local = "local"
    unleash = "unleash"


@contextlib.contextmanager
def open_backend(
    kind: BackendKind, state: Path, flags_dir: Path | None, unleash_url: str
) -> Iterator[FlagBackend]:
    if kind is BackendKind.local:
        yield LocalBackend(state, flags_dir)
        return
    backend = UnleashBackend(unleash_url)
    try:
        yield backend
    finally:
        backend.close()
