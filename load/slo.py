"""Service-level objectives checked against the load run's statistics."""

from __future__ import annotations

from dataclasses import dataclass

from harness.config import SloThresholds
from load.contract import MEDIA_FIRST_BYTE, RECORDINGS_LIST
from load.stats import LoadStats


@dataclass(frozen=True, slots=True)
class SloResult:
    name: str
    ok: bool
    message: str


def evaluate(stats: LoadStats, slo: SloThresholds) -> list[SloResult]:
    """One result per threshold; a threshold with no samples to judge is a breach, never a pass."""
    return [
        _p95(stats, RECORDINGS_LIST, "recordings list p95", slo.recordings_list_p95_ms),
        _p95(stats, MEDIA_FIRST_BYTE, "media first byte p95", slo.media_first_byte_p95_ms),
        _error_rate(stats, slo.max_error_rate),
        _rps(stats, slo.min_rps),
    ]


def _p95(stats: LoadStats, request: str, label: str, limit: float) -> SloResult:
    name = f"slo: {label} <= {limit:g} ms"
    measured = stats.p95(request)
    if measured is None:
        return SloResult(name, False, f"no '{request}' requests completed, so {label} is unknown")
    verdict = "within" if measured <= limit else "breaches"
    return SloResult(name, measured <= limit, f"{label} {measured:g} ms {verdict} {limit:g} ms")


def _error_rate(stats: LoadStats, limit: float) -> SloResult:
    name = f"slo: error rate <= {limit:.2%}"
    total = stats.total
    if total.requests == 0:
        return SloResult(name, False, "no requests completed, so the error rate is unknown")
    rate = stats.fail_rate
    verdict = "within" if rate <= limit else "breaches"
    detail = f"{total.failures}/{total.requests} failed"
    return SloResult(name, rate <= limit, f"error rate {rate:.2%} ({detail}) {verdict} {limit:.2%}")


def _rps(stats: LoadStats, floor: float) -> SloResult:
    name = f"slo: throughput >= {floor:g} rps"
    rps = stats.total.rps
    verdict = "meets" if rps >= floor else "is below"
    return SloResult(name, rps >= floor, f"throughput {rps:.1f} rps {verdict} {floor:g} rps")
