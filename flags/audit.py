"""Append-only audit log of every flag action and every refusal, one JSON object per line.

The file is opened with O_APPEND and only ever appended to, so an entry, once written, stays.
Who turned a flag on, with which verdict, is what an incident review asks first.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from flags.redact import redact
from harness.errors import UsageError

DEFAULT_AUDIT = Path(".chaperone") / "audit.jsonl"

Result = Literal["done", "refused", "error"]


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime
    actor: str
    action: str
    flag: str
    env: str
    backend: str
    result: Result
    reason: str = ""
    build: str | None = None
    rollout: int | None = None
    verdict_file: str | None = None
    verdict_sha256: str | None = None


def current_actor(explicit: str | None = None) -> str:
    return explicit or os.environ.get("USER") or os.environ.get("LOGNAME") or _login_name()


def _login_name() -> str:
    """CI runners and containers often have no $USER; the uid's name is still an answer."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def now_utc() -> datetime:
    return datetime.now(UTC)


def append(path: Path, entry: AuditEntry) -> None:
    line = redact(entry.model_dump_json()) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise UsageError(
            f"cannot open audit log {path}: {exc.strerror}", "pass --audit with a writable path"
        ) from None
    try:
        # One write() of the whole line so concurrent appenders never interleave inside it.
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(path: Path, flag: str | None = None) -> list[AuditEntry]:
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = AuditEntry.model_validate_json(line)
        except ValidationError:
            raise UsageError(
                f"audit log {path} line {number} is not a valid entry",
                "the log is append-only; restore it from backup",
            ) from None
        if flag is None or entry.flag == flag:
            entries.append(entry)
    return entries
