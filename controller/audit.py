"""The controller's audit log: append-only rows, hash-chained, each signed with the controller's
own Ed25519 key (never the gate's), plus checkpoints written where the operator keeps them.

A row's hash covers its number, its content and the previous row's hash; its signature covers
that hash. Rewriting a row breaks its hash; re-chaining after a rewrite needs the controller's
private key; cutting rows off the end is caught by a checkpoint that names a row no longer there.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from controller.store import audit, now_text
from flags.keys import SigningKey, VerifyKey

GENESIS = "0" * 64


def entry_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    flag: str | None,
    env: str | None,
    detail: str,
    prev: str,
) -> str:
    body = [seq, at, actor, action, flag, env, detail, prev]
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def append(
    conn: Connection,
    key: SigningKey,
    actor: str,
    action: str,
    flag: str | None = None,
    env: str | None = None,
    **detail: Any,
) -> int:
    """Adds a row in the caller's transaction: it commits or rolls back with the decision."""
    last = conn.execute(
        select(audit.c.seq, audit.c.sha256).order_by(audit.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.sha256) if last else (1, GENESIS)
    at, text = now_text(), json.dumps(detail, sort_keys=True, separators=(",", ":"))
    digest = entry_hash(seq, at, actor, action, flag, env, text, prev)
    conn.execute(
        insert(audit).values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            flag=flag,
            env=env,
            detail=text,
            prev=prev,
            sha256=digest,
            signature=key.sign(digest.encode()).hex(),
        )
    )
    return seq


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: str
    signature: str

    def line(self) -> str:
        return json.dumps({"seq": self.seq, "head": self.head, "signature": self.signature})


def checkpoint(engine: Engine, key: SigningKey) -> Checkpoint | None:
    with engine.connect() as conn:
        last = conn.execute(
            select(audit.c.seq, audit.c.sha256).order_by(audit.c.seq.desc()).limit(1)
        ).first()
    if last is None:
        return None
    message = f"{last.seq}:{last.sha256}".encode()
    return Checkpoint(last.seq, last.sha256, key.sign(message).hex())


STDOUT = Path("-")


def write_checkpoint(
    engine: Engine, key: SigningKey, path: Path, last: int | None = None
) -> Checkpoint | None:
    """Appends the current head to `path` (one JSON line each), if it moved since the last;
    `-` writes it to stdout instead, for a log shipper (`last`: the seq written before)."""
    point = checkpoint(engine, key)
    if point is None:
        return None
    if path == STDOUT:
        if point.seq != last:
            sys.stdout.write(point.line() + "\n")
            sys.stdout.flush()
        return point
    lines = path.read_text().splitlines() if path.exists() else []
    if lines and json.loads(lines[-1]).get("seq") == point.seq:
        return point
    with path.open("a", encoding="utf-8") as handle:
        handle.write(point.line() + "\n")
    return point


def verify(
    engine: Engine,
    key: VerifyKey,
    checkpoints: Path | None = None,
    grace: float = 0.0,
    now: datetime | None = None,
) -> list[str]:
    """Every problem found in the log (empty: intact). With checkpoints, the newest must anchor
    the log's head: rows after it are reported unless written within the last `grace`
    seconds (a live controller between two checkpoints); their times are signed."""
    problems: list[str] = []
    heads: dict[int, str] = {}
    times: dict[int, str] = {}
    expected_seq, prev = 1, GENESIS
    with engine.connect() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
    for row in rows:
        if row.seq != expected_seq:
            problems.append(f"row {expected_seq} is missing (next is {row.seq})")
        if row.prev != prev:
            problems.append(f"row {row.seq} does not follow the previous row (chain broken)")
        digest = entry_hash(
            row.seq, row.at, row.actor, row.action, row.flag, row.env, row.detail, row.prev
        )
        if digest != row.sha256:
            problems.append(f"row {row.seq} was rewritten (its hash does not match its content)")
        if not _signed(key, row.signature, row.sha256.encode()):
            problems.append(f"row {row.seq} is not signed by the controller's key (re-chained?)")
        heads[row.seq], times[row.seq] = row.sha256, row.at
        expected_seq, prev = row.seq + 1, row.sha256
    if checkpoints is not None:
        found, newest = _check_points(key, checkpoints, heads)
        problems.extend(found)
        problems.extend(_unanchored(times, newest, grace, now or datetime.now(UTC)))
    return problems


def _unanchored(times: dict[int, str], newest: int, grace: float, now: datetime) -> list[str]:
    """Rows after the newest checkpoint, older than `grace`: nothing outside the database
    vouches for them (rows appended after the head, or a whole log rolled back)."""
    if not times:
        return []
    head = max(times)
    if newest >= head:
        return []
    stale = [
        seq
        for seq, at in times.items()
        if seq > newest and (now - datetime.fromisoformat(at)).total_seconds() > grace
    ]
    if not stale:
        return []
    if newest == 0:
        return [f"no checkpoint anchors the log (rows 1..{head})"]
    return [
        f"rows {min(stale)}..{max(stale)} come after the newest checkpoint (row {newest}); "
        f"it does not match the log's head (row {head})"
    ]


def _check_points(key: VerifyKey, path: Path, heads: dict[int, str]) -> tuple[list[str], int]:
    """The problems with the checkpoints, and the newest row a valid one anchors (0: none)."""
    problems: list[str] = []
    newest = 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return [f"checkpoints {path} are unreadable ({type(exc).__name__})"], 0
    for number, line in enumerate(lines, 1):
        try:
            point = json.loads(line)
            seq, head, signature = int(point["seq"]), str(point["head"]), str(point["signature"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint line {number} is not a checkpoint")
            continue
        if not _signed(key, signature, f"{seq}:{head}".encode()):
            problems.append(f"checkpoint {seq} is not signed by the controller's key")
        elif seq not in heads:
            problems.append(f"checkpoint {seq} names a row the log no longer has (truncated)")
        elif heads[seq] != head:
            problems.append(f"row {seq} differs from its checkpoint (log rewritten or rolled back)")
        else:
            newest = max(newest, seq)
    return problems, newest


def _signed(key: VerifyKey, signature_hex: str, message: bytes) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return key.verify(signature, message)
