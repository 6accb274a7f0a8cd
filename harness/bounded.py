"""The one way Chaperone reads a file someone named: a policy, the profile it names, an OpenAPI
document, a report, a world, a flag state file, an audit log.

Each is read within a bound, and only if it is a regular file: `profile: /dev/zero` once read
24 GB before the kernel killed the process, and a FIFO would block forever. Every problem is
one ConfigError naming the file and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from harness.errors import ConfigError

__all__ = ["MAX_CONFIG_BYTES", "MAX_DATA_BYTES", "read_bounded", "read_bounded_text"]

# A hand-written YAML (policy, profile) or an OpenAPI document: the clinic's profile is ~30 KB.
MAX_CONFIG_BYTES = 8 << 20
# What a run or the flag commands wrote and read back: report.json, world.json, audit logs.
MAX_DATA_BYTES = 512 << 20


def read_bounded(
    path: Path | str, what: str, limit: int = MAX_CONFIG_BYTES, fix: str | None = None
) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes. FileNotFoundError passes
    through (callers that treat a missing file as empty need it); anything else is a
    one-line ConfigError."""
    fix = fix or f"pass the path of a {what} file"
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang before the type check.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {_why(exc)}", fix) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{what} {path} is not a regular file (a device or a pipe?)", fix)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {what} {path}: {_why(exc)}", fix) from None
    if len(data) > limit:
        raise ConfigError(f"{what} {path} is larger than {_size(limit)}", fix)
    return data


def read_bounded_text(
    path: Path | str, what: str, limit: int = MAX_CONFIG_BYTES, fix: str | None = None
) -> str:
    """As read_bounded, decoded as UTF-8 (a bad byte is a ConfigError too)."""
    data = read_bounded(path, what, limit, fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (bad byte at offset {exc.start})",
            "save the file as UTF-8",
        ) from None


def _why(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
