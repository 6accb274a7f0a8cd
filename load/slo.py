"""Service-level objectives checked against the load run's statistics.

Latency objectives are per route: the profile's `load.slo` names the routes that have one and
their default limits, and the run's (the policy's) `slo` may change a limit. A route the run
names that the profile sets no objective for does not apply to that app and is reported as not
applicable; a route with no samples is a breach, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config import RouteSlo, SloThresholds
from load.stats import LoadStats


@dataclass(frozen=True, slots=True)
class SloResult:
    name: str
    ok: bool
    message: str
    skipped: str = ""  # why it does not apply; such a result is never counted as a pass


def evaluate(
    stats: LoadStats, slo: SloThresholds, profile_slo: Mapping[str, RouteSlo]
) -> list[SloResult]:
    """One result per objective: the profile's routes in its order, then routes only the run
    names, then the error rate and the throughput."""
    results = [
        _p95(stats, route, slo.routes.get(route, default).p95_ms)
        for route, default in profile_slo.items()
    ]
    results += [
        _not_applicable(route, limit)
        for route, limit in slo.routes.items()
        if route not in profile_slo
    ]
    return [*results, _error_rate(stats, slo.max_error_rate), _rps(stats, slo.min_rps)]


def _not_applicable(route: str, limit: RouteSlo) -> SloResult:
    reason = f"the profile sets no objective for {route} (load.slo)"
    return SloResult(f"slo: p95 of {route} <= {limit.p95_ms:g} ms", True, reason, skipped=reason)


def _p95(stats: LoadStats, route: str, limit: float) -> SloResult:
    name = f"slo: p95 of {route} <= {limit:g} ms"
    measured = stats.p95(route)
    if measured is None:
        return SloResult(name, False, f"no '{route}' requests completed, so its p95 is unknown")
    verdict = "within" if measured <= limit else "breaches"
    return SloResult(
        name, measured <= limit, f"p95 of {route} {measured:g} ms {verdict} {limit:g} ms"
    )


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
