"""Locust's CSV output read back into numbers: per-request p95s, totals and the time series."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InfrastructureError
from load.contract import AGGREGATED, CSV_PREFIX


@dataclass(frozen=True, slots=True)
class RequestStats:
    name: str
    requests: int
    failures: int
    rps: float
    p95_ms: float | None  # None when Locust saw no request of this name


@dataclass(frozen=True, slots=True)
class LoadStats:
    by_name: dict[str, RequestStats]
    series: list[dict[str, float]] = field(default_factory=list)

    @property
    def total(self) -> RequestStats:
        return self.by_name.get(AGGREGATED, RequestStats(AGGREGATED, 0, 0, 0.0, None))

    @property
    def fail_rate(self) -> float:
        total = self.total
        return total.failures / total.requests if total.requests else 0.0

    def p95(self, name: str) -> float | None:
        found = self.by_name.get(name)
        return None if found is None else found.p95_ms

    def metrics(self) -> dict[str, object]:
        return {
            "requests": self.total.requests,
            "failures": self.total.failures,
            "rps": round(self.total.rps, 2),
            "fail_rate": round(self.fail_rate, 4),
            "p95_ms": {name: s.p95_ms for name, s in sorted(self.by_name.items())},
            "series": self.series,
        }


def read_stats(run_dir: Path) -> LoadStats:
    """Parse `locust_stats.csv` and `locust_stats_history.csv` in `run_dir`."""
    stats_path = run_dir / f"{CSV_PREFIX}_stats.csv"
    if not stats_path.is_file():
        raise InfrastructureError(
            f"Locust wrote no statistics ({stats_path} is missing)",
            f"see {run_dir / 'locust.log'} for why it stopped",
        )
    rows = _rows(stats_path)
    by_name = {row["Name"]: _request_stats(row) for row in rows}
    history = run_dir / f"{CSV_PREFIX}_stats_history.csv"
    series = _series(_rows(history)) if history.is_file() else []
    return LoadStats(by_name=by_name, series=series)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error) as exc:
        raise InfrastructureError(f"cannot read Locust output {path}: {exc}") from exc


def _request_stats(row: dict[str, str]) -> RequestStats:
    requests = int(_number(row.get("Request Count")) or 0)
    return RequestStats(
        name=row["Name"],
        requests=requests,
        failures=int(_number(row.get("Failure Count")) or 0),
        rps=_number(row.get("Requests/s")) or 0.0,
        p95_ms=_number(row.get("95%")) if requests else None,
    )


def _series(rows: list[dict[str, str]]) -> list[dict[str, float]]:
    aggregated = [r for r in rows if r.get("Name") == AGGREGATED]
    if not aggregated:
        return []
    start = _number(aggregated[0].get("Timestamp")) or 0.0
    points = []
    for row in aggregated:
        rps = _number(row.get("Requests/s")) or 0.0
        fails = _number(row.get("Failures/s")) or 0.0
        points.append(
            {
                "t": (_number(row.get("Timestamp")) or start) - start,
                "rps": rps,
                "p95_ms": _number(row.get("95%")) or 0.0,
                "fail_rate": round(fails / rps, 4) if rps else 0.0,
            }
        )
    return points


def _number(text: str | None) -> float | None:
    """Locust writes "N/A" for percentiles it has no samples for."""
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
