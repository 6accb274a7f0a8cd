"""Atomic file writes: a report is either the old file or the whole new one, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename over it (atomic on POSIX)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        # Ctrl-C or a full disk: leave no stray temporary behind.
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
