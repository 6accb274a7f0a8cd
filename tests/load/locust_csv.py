"""Locust CSV output in the exact shape Locust 2.x writes it, with chosen numbers."""

from __future__ import annotations

from pathlib import Path

from harness.config import RouteSlo

RECORDINGS = "GET /api/me/recordings"
MEDIA = "GET /api/recordings/{recording_id}/media"
ROUTES = {RECORDINGS: RouteSlo(p95_ms=1500), MEDIA: RouteSlo(p95_ms=1500)}  # the profile's load.slo
_PCTS = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s," + _PCTS
)
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s," + _PCTS + ",Total Request Count,"
    "Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)


def _stats_row(kind: str, name: str, count: int, fails: int, rps: float, p95: str) -> str:
    pcts = ",".join(["10", "12", "14", "16", "20", p95, "30", "40", "50", "60", "70"])
    return f"{kind},{name},{count},{fails},10,12.5,1.0,80.0,500.0,{rps},0.0,{pcts}"


def write_stats(
    directory: Path,
    *,
    list_p95: float = 120,
    media_p95: float = 90,
    requests: int = 1000,
    failures: int = 0,
    rps: float = 100.0,
    with_media: bool = True,
) -> Path:
    """Write `stats.csv` and `history.csv` (the fake Locust copies them to the run dir)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [
        STATS_HEADER,
        _stats_row("GET", RECORDINGS, 400, 0, rps / 2, f"{list_p95:g}"),
    ]
    if with_media:
        rows.append(_stats_row("GET", MEDIA, 300, 0, rps / 4, f"{media_p95:g}"))
    rows.append(_stats_row("", "Aggregated", requests, failures, rps, "150"))
    (directory / "stats.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    history = [
        HISTORY_HEADER,
        "1000,0,,Aggregated,0.000000,0.000000," + ",".join(["N/A"] * 11) + ",0,0,0,0.0,0,0,0",
        "1001,12,GET,GET /api/me/recordings,40.0,0.0," + ",".join(["9"] * 11) + ",40,0,9,9,1,9,9",
        "1002,12,,Aggregated,80.0,4.0," + ",".join(["50"] * 11) + ",160,8,9,9,1,9,9",
        "1003,12,,Aggregated,100.0,0.0," + ",".join(["60"] * 11) + ",260,8,9,9,1,9,9",
    ]
    (directory / "history.csv").write_text("\n".join(history) + "\n", encoding="utf-8")
    return directory


def publish(fixtures: Path, run_dir: Path, prefix: str = "locust") -> None:
    """Put fixture files where a real Locust run would have written them."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{prefix}_stats.csv").write_text((fixtures / "stats.csv").read_text())
    (run_dir / f"{prefix}_stats_history.csv").write_text((fixtures / "history.csv").read_text())
