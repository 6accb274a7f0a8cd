"""Findings and coverage rows as JSON: how the Locust side hands what it found to the harness.

A finding travels in its own shape (`Finding.to_json`, the one report.json and incident.json use).

Workers send these documents to the master as Locust messages; the master (or the one local
process) appends findings to JSON-lines files, one per worker, and rewrites one coverage file,
which the harness tails while Locust runs. No two writers ever share a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from harness.coverage import Coverage, CoverageRow
from harness.errors import InfrastructureError
from harness.models import Finding
from load.checker import MediaTally
from load.contract import COVERAGE_FILE, MEDIA_FILE


class FindingsTail:
    """Reads the findings files of a directory incrementally, while their writers still append.

    Only complete lines are consumed: a writer may be half-way through a line.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._offsets: dict[Path, int] = {}

    def read_new(self) -> list[Finding]:
        found: list[Finding] = []
        for path in sorted(self._directory.glob("findings-*.jsonl")):
            found += self._read_file(path)
        return found

    def _read_file(self, path: Path) -> list[Finding]:
        offset = self._offsets.get(path, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offsets[path] = offset + len(complete)
        return [Finding.from_json(json.loads(line)) for line in complete.splitlines() if line]


def row_to_json(row: CoverageRow) -> dict[str, Any]:
    return {
        "route": row.route,
        "observer": row.observer,
        "owner": row.owner,
        "checked": row.checked,
        "lost": row.lost,
        "reasons": [list(pair) for pair in row.reasons],
    }


def row_from_json(data: dict[str, Any], suite: str = "") -> CoverageRow:
    return CoverageRow(
        suite=suite,
        route=str(data["route"]),
        observer=str(data["observer"]),
        owner=str(data["owner"]),
        checked=int(data["checked"]),
        lost=int(data["lost"]),
        reasons=tuple((str(k), int(v)) for k, v in data.get("reasons", ())),
    )


class FindingsFile:
    """Appends findings to one JSON-lines file, a whole line at a time, flushed at once: the
    harness tails these files during the run."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def write(self, findings: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(f) + "\n" for f in findings)
        if not lines:
            return
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("a", encoding="utf-8")
        self._file.write(lines)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def write_coverage(directory: Path, coverage: Coverage) -> None:
    """Replace the coverage file atomically, so a reader never sees half of it."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [row_to_json(r) for r in coverage.rows()]
    partial = directory / f".{COVERAGE_FILE}.{os.getpid()}"
    partial.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    partial.replace(directory / COVERAGE_FILE)


def read_coverage(directory: Path, suite: str) -> list[CoverageRow]:
    """The coverage rows the Locust side counted, labelled with `suite`; [] if none yet."""
    path = directory / COVERAGE_FILE
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
        return [row_from_json(r, suite) for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InfrastructureError(f"cannot read the load coverage {path}: {exc}") from exc


def write_media(directory: Path, tally: MediaTally) -> None:
    """Replace the media tally file atomically (once anything was decoded, skipped or called)."""
    if tally.empty():
        return
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{MEDIA_FILE}.{os.getpid()}"
    partial.write_text(json.dumps(tally.to_json()), encoding="utf-8")
    partial.replace(directory / MEDIA_FILE)


def read_media(directory: Path) -> MediaTally:
    """What the Locust side's media oracle decoded (and what its budget skipped)."""
    tally = MediaTally()
    path = directory / MEDIA_FILE
    if not path.is_file():
        return tally
    try:
        tally.absorb(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise InfrastructureError(f"cannot read the load media tally {path}: {exc}") from exc
    return tally
