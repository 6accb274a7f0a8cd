"""Service-level objectives checked against the load run's statistics.

The p95 objectives read the route the profile names for them (`load.slo_routes`); one the
profile names no route for does not apply to that app (no media, say) and is reported as not
applicable. One that names a route with no samples is a breach, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config import SloThresholds
from load.stats import LoadStats


@dataclass(frozen=True, slots=True)
class SloResult:
    name: str
    ok: bool
    message: str
    skipped: str = ""  # why it does not apply; such a result is never counted as a pass


def evaluate(stats: LoadStats, slo: SloThresholds, routes: Mapping[str, str]) -> list[SloResult]:
    """One result per threshold, in a fixed order."""
    return [
        _p95(stats, routes, "recordings_list_p95_ms", "recordings list p95", slo),
        _p95(stats, routes, "media_first_byte_p95_ms", "media first byte p95", slo),
        _error_rate(stats, slo.max_error_rate),
        _rps(stats, slo.min_rps),
    ]


def _p95(
    stats: LoadStats, routes: Mapping[str, str], key: str, label: str, slo: SloThresholds
) -> SloResult:
    limit = float(getattr(slo, key))
    name = f"slo: {label} <= {limit:g} ms"
    request = routes.get(key)
    if request is None:
        reason = f"the profile names no route for {key} (load.slo_routes)"
        return SloResult(name, True, reason, skipped=reason)
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
