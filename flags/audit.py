"""The audit log: write-ahead and hash-chained, one JSON object per line.

    {"seq": 7, "prev": sha256(line 6), "log": "<id>", "phase": "intent", ...}   fsynced, then
    ... the flag changes ...
    {"seq": 8, "prev": sha256(line 7), "log": "<id>", "phase": "outcome", "intent": 7, ...}

* Write-ahead: a change is preceded by an `intent` line on disk (fsynced) and followed by its
  `outcome`. If the intent cannot be written, the flag does not change (a kill switch is the
  one exception: turning a flag off is never blocked, only reported unaudited).
* Hash chain: each line carries the sha256 of the line before it, so an edit, a deletion or a
  reordering breaks the chain at that point (`verify`). After each line the chain head (log id,
  seq, hash) is stored in the flag's backend too (`anchor`): a truncated or deleted log then
  disagrees with the backend.
* Identity: `actor` is the OS account running the command and `ci` the CI job's identity as
  its environment variables claim it (marked unverified: anyone can set them); the free-text
  `--actor` is kept apart, as `claimed_actor`.

Who turned a flag on, with which verdict, is what an incident review asks first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from flags.backends.base import AuditHead
from flags.redact import redact
from harness.bounded import MAX_DATA_BYTES, read_bounded
from harness.errors import ChaperoneError, ConfigError, UsageError

DEFAULT_AUDIT = Path(".chaperone") / "audit.jsonl"
GENESIS = "0" * 64

Phase = Literal["intent", "outcome", "record"]
Result = Literal["pending", "done", "refused", "error"]


class AuditError(UsageError):
    """The audit log cannot be read or written."""


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1)
    prev: str
    log: str
    at: AwareDatetime
    actor: str
    ci: str | None = None
    claimed_actor: str | None = None
    action: str
    phase: Phase = "record"
    intent: int | None = None
    flag: str
    env: str
    backend: str
    result: Result
    reason: str = ""
    build: str | None = None
    build_digest: str | None = None
    rollout: int | None = None
    verdict_file: str | None = None
    verdict_sha256: str | None = None
    policy_sha256: str | None = None


# -- who is acting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    user: str
    ci: str | None = None
    claimed: str | None = None


def identity(claimed: str | None = None, environ: Mapping[str, str] | None = None) -> Identity:
    env = os.environ if environ is None else environ
    return Identity(os_user(), ci_identity(env), claimed or None)


def os_user() -> str:
    """The account of this process's uid; unlike $USER it cannot be set by the caller."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


# Anyone can export GITHUB_ACTOR=alice: the CI identity below is what the environment claims,
# and the audit line says so. Verifying it needs the CI's signed OIDC token checked against its
# issuer, which only the controller (with network and a trust root) can do.
UNVERIFIED = " (claimed by environment variables, unverified)"


def ci_identity(env: Mapping[str, str]) -> str | None:
    claimed = _claimed_ci(env)
    return None if claimed is None else claimed + UNVERIFIED


def _claimed_ci(env: Mapping[str, str]) -> str | None:
    if env.get("GITHUB_ACTIONS") == "true":
        parts = [env.get("GITHUB_ACTOR", "?"), env.get("GITHUB_REPOSITORY", "?")]
        return f"github:{parts[0]}@{parts[1]} run {env.get('GITHUB_RUN_ID', '?')}"
    if env.get("GITLAB_CI") == "true":
        user, project = env.get("GITLAB_USER_LOGIN", "?"), env.get("CI_PROJECT_PATH", "?")
        return f"gitlab:{user}@{project} job {env.get('CI_JOB_ID', '?')}"
    if env.get("JENKINS_URL"):
        return f"jenkins:{env.get('BUILD_TAG', '?')}"
    if env.get("CI", "").lower() in ("true", "1"):
        return f"ci:{env.get('CI_JOB_ID') or env.get('BUILD_ID') or '?'}"
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- writing ----------------------------------------------------------------------------------

Anchor = Callable[[str, AuditHead], None]


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


@dataclass
class AuditLog:
    """Appends chained entries under an exclusive lock; `anchor(flag, head)` stores the new
    head in the flag's backend while the lock is held, so heads are stored in order."""

    path: Path
    anchor: Anchor | None = None
    anchor_errors: list[str] = field(default_factory=list)

    def append(self, **fields: Any) -> AuditEntry:
        with self._locked() as fd:
            last = _last_line(fd)
            chain = _next_link(self.path, last)
            entry = _entry(chain, fields)
            line = entry.model_dump_json(exclude_none=True).encode() + b"\n"
            _write_durably(fd, line, self.path)
            self._anchor(entry, AuditHead(entry.log, entry.seq, line_hash(line)))
        return entry

    def _anchor(self, entry: AuditEntry, head: AuditHead) -> None:
        if self.anchor is None:
            return
        try:
            self.anchor(entry.flag, head)
        except ChaperoneError as exc:
            # The line is on disk; only the copy of the head is missing. Reported, not fatal:
            # verify then shows the lines after the stored head as not anchored.
            self.anchor_errors.append(exc.one_line())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(
                f"cannot open audit log {self.path}: {exc.strerror or exc}",
                "pass --audit with a writable path",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class _Link:
    seq: int
    prev: str
    log: str


def log_id_for(path: Path) -> str:
    """A log's id names where it lives (host and absolute path): a log deleted and started
    afresh at the same place has the same id, so the backend's head still speaks for it, while
    another machine's log for the same flag has its own."""
    where = f"{socket.gethostname()}:{Path(path).resolve()}"
    return hashlib.sha256(where.encode()).hexdigest()[:8]


def _next_link(path: Path, last: bytes | None) -> _Link:
    if last is None:
        return _Link(1, GENESIS, log_id_for(path))
    try:
        previous = AuditEntry.model_validate_json(last)
    except ValidationError:
        raise AuditError(
            f"the last line of audit log {path} is not a valid entry, so nothing can be chained "
            "to it",
            "inspect it with `chaperone flags history NAME --verify`",
        ) from None
    return _Link(previous.seq + 1, line_hash(last), previous.log)


def _entry(link: _Link, fields: dict[str, Any]) -> AuditEntry:
    clean = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
    clean.setdefault("at", now_utc())
    try:
        return AuditEntry(seq=link.seq, prev=link.prev, log=link.log, **clean)
    except ValidationError as exc:  # a bug in a caller, not the user's doing
        raise ChaperoneError(f"internal: bad audit entry ({exc.errors()[0]['msg']})") from None


def _write_durably(fd: int, line: bytes, path: Path) -> None:
    start = os.fstat(fd).st_size
    try:
        # One write() of the whole line, so concurrent readers never see half of it.
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(28, "short write (disk full?)")
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)  # leave no half line for the chain to trip over
        raise AuditError(
            f"cannot write audit log {path}: {exc.strerror or exc}",
            "free space or pass --audit with a writable path",
        ) from None


def _last_line(fd: int) -> bytes | None:
    """The last complete line, read backwards from the end (the log can be long)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    chunk, data, end = 4096, b"", size
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start) + data
        end = start
        body = data.rstrip(b"\n")
        if b"\n" in body:
            return body.rsplit(b"\n", 1)[1]
    return data.rstrip(b"\n") or None


# -- reading and verifying --------------------------------------------------------------------


def read(path: Path, flag: str | None = None) -> list[AuditEntry]:
    """Every entry (of `flag`); an unreadable log or a line that is not an entry is an error."""
    entries = []
    for number, raw in enumerate(_raw_lines(path), start=1):
        try:
            entry = AuditEntry.model_validate_json(raw)
        except ValidationError:
            raise AuditError(
                f"audit log {path} line {number} is not a valid entry",
                "check it with `chaperone flags history NAME --verify`",
            ) from None
        if flag is None or entry.flag == flag:
            entries.append(entry)
    return entries


def _raw_lines(path: Path) -> list[bytes]:
    try:
        data = read_bounded(path, "audit log", MAX_DATA_BYTES, "pass --audit with its path")
    except FileNotFoundError:
        return []
    except ConfigError as exc:
        raise AuditError(exc.problem, exc.fix) from None
    except OSError as exc:
        raise AuditError(
            f"cannot read audit log {path}: {exc.strerror or exc}", "pass --audit with its path"
        ) from None
    return [line for line in data.split(b"\n") if line.strip()]


@dataclass
class Verification:
    lines: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(path: Path, heads: Mapping[str, AuditHead]) -> Verification:
    """Walks the chain and compares it with the heads the backend kept."""
    report = Verification()
    raws = _raw_lines(path)
    report.lines = len(raws)
    hashes: dict[int, str] = {}
    expected = log_id_for(path)
    log_id, open_intents = _walk(raws, report, hashes)
    if log_id and log_id != expected:
        report.problems.append(
            f"the log's id {log_id} is not the one for {path} on this host ({expected}): "
            "it was replaced by another log"
        )
    for log, head in sorted(heads.items()):
        if log == expected:
            _check_head(head, hashes, report)
        else:
            report.notes.append(
                f"the backend also anchors audit log {log} (line {head.seq}), kept on another "
                "host or path: verify it there"
            )
    for seq in sorted(open_intents):
        report.notes.append(f"line {seq}: an intent with no outcome (the command was killed?)")
    return report


def _walk(raws: list[bytes], report: Verification, hashes: dict[int, str]) -> tuple[str, set[int]]:
    expected_seq, expected_prev, log_id = 1, GENESIS, ""
    open_intents: set[int] = set()
    for position, raw in enumerate(raws, start=1):
        try:
            entry = AuditEntry.model_validate_json(raw)
        except ValidationError:
            report.problems.append(f"line {position} is not a valid entry (edited?)")
            expected_seq, expected_prev = expected_seq + 1, line_hash(raw)
            continue
        log_id = log_id or entry.log
        _check_link(entry, position, expected_seq, expected_prev, log_id, report)
        hashes[entry.seq] = line_hash(raw)
        if entry.phase == "intent":
            open_intents.add(entry.seq)
        if entry.intent is not None:
            open_intents.discard(entry.intent)
        expected_seq, expected_prev = entry.seq + 1, line_hash(raw)
    return log_id, open_intents


def _check_link(
    entry: AuditEntry, position: int, seq: int, prev: str, log_id: str, report: Verification
) -> None:
    if entry.log != log_id:
        report.problems.append(f"line {position} belongs to another log ({entry.log})")
    if entry.seq > seq:
        missing = f"{seq}" if entry.seq == seq + 1 else f"{seq}-{entry.seq - 1}"
        report.problems.append(f"line(s) {missing} are missing (deleted)")
    elif entry.seq < seq:
        report.problems.append(f"line {position} repeats number {entry.seq} (copied or reordered)")
    elif entry.prev != prev:
        report.problems.append(
            f"line {entry.seq - 1} was altered (line {entry.seq} chains to another hash)"
        )


def _check_head(head: AuditHead, hashes: dict[int, str], report: Verification) -> None:
    if not hashes:
        report.problems.append(
            f"the log is missing or empty, but the backend's head for it is line {head.seq}: "
            "it was deleted or replaced"
        )
    elif head.seq not in hashes:
        last = max(hashes, default=0)
        report.problems.append(
            f"the log was truncated: the backend's head is line {head.seq}, the log ends at "
            f"line {last}"
        )
    elif not hashes[head.seq].startswith(head.sha256):
        report.problems.append(f"line {head.seq} differs from the head the backend kept")
