"""Parsing Locust's CSVs and judging them against the SLO thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import RouteSlo, SloThresholds
from harness.errors import InfrastructureError
from load.slo import evaluate
from load.stats import read_stats
from tests.load.locust_csv import MEDIA, RECORDINGS, ROUTES, publish, write_stats

LENIENT = SloThresholds.model_validate(
    {RECORDINGS: {"p95_ms": 500}, MEDIA: {"p95_ms": 500}, "max_error_rate": 0.05, "min_rps": 10}
)


def _stats(tmp_path: Path, **numbers: object):
    publish(write_stats(tmp_path / "fx", **numbers), tmp_path / "run")  # type: ignore[arg-type]
    return read_stats(tmp_path / "run")


def test_reads_p95_rps_and_failures(tmp_path: Path) -> None:
    stats = _stats(tmp_path, list_p95=123, media_p95=45, requests=2000, failures=10, rps=88.5)
    assert stats.p95(RECORDINGS) == 123
    assert stats.p95(MEDIA) == 45
    assert stats.total.requests == 2000
    assert stats.total.rps == pytest.approx(88.5)
    assert stats.fail_rate == pytest.approx(0.005)


def test_series_uses_aggregated_rows_relative_to_start(tmp_path: Path) -> None:
    series = _stats(tmp_path).series
    assert [p["t"] for p in series] == [0.0, 2.0, 3.0]
    assert series[1] == {"t": 2.0, "rps": 80.0, "p95_ms": 50.0, "fail_rate": 0.05}
    assert series[0]["p95_ms"] == 0.0  # "N/A" before the first request


def test_all_thresholds_met(tmp_path: Path) -> None:
    results = evaluate(_stats(tmp_path), LENIENT, ROUTES)
    assert len(results) == 4
    assert all(r.ok for r in results), [r.message for r in results]


def test_each_breach_fails_with_the_numbers(tmp_path: Path) -> None:
    stats = _stats(tmp_path, list_p95=900, media_p95=700, requests=100, failures=20, rps=3.5)
    results = {r.name: r for r in evaluate(stats, LENIENT, ROUTES)}
    assert not any(r.ok for r in results.values())
    messages = " | ".join(r.message for r in results.values())
    assert f"p95 of {RECORDINGS} 900 ms breaches 500 ms" in messages
    assert f"p95 of {MEDIA} 700 ms breaches 500 ms" in messages
    assert "error rate 20.00% (20/100 failed) breaches 5.00%" in messages
    assert "throughput 3.5 rps is below 10 rps" in messages


def test_one_breach_leaves_the_others_passing(tmp_path: Path) -> None:
    results = evaluate(_stats(tmp_path, media_p95=501), LENIENT, ROUTES)
    assert [r.ok for r in results] == [True, False, True, True]


def test_missing_samples_are_a_breach_not_a_pass(tmp_path: Path) -> None:
    results = evaluate(_stats(tmp_path, with_media=False), LENIENT, ROUTES)
    media = results[1]
    assert not media.ok and not media.skipped
    assert f"no '{MEDIA}' requests" in media.message


def test_a_route_the_profile_sets_no_objective_for_does_not_apply(tmp_path: Path) -> None:
    """An app without media (VAmPI) is not judged on media, and that is never a pass."""
    stats = _stats(tmp_path, with_media=False, list_p95=900)
    results = evaluate(stats, LENIENT, {RECORDINGS: ROUTES[RECORDINGS]})
    assert results[1].skipped == f"the profile sets no objective for {MEDIA} (load.slo)"
    assert not results[0].ok  # the one that does apply still breaches
    none = evaluate(stats, LENIENT, {})
    assert [bool(r.skipped) for r in none] == [True, True, False, False]


def test_the_profile_default_applies_where_the_run_sets_no_limit(tmp_path: Path) -> None:
    stats = _stats(tmp_path, list_p95=900, media_p95=100)
    strict = {RECORDINGS: RouteSlo(p95_ms=800), MEDIA: RouteSlo(p95_ms=1000)}
    whole_run = SloThresholds(max_error_rate=0.05, min_rps=10)
    assert [r.ok for r in evaluate(stats, whole_run, strict)][:2] == [False, True]
    assert [r.ok for r in evaluate(stats, LENIENT, strict)][:2] == [False, True]  # run: 500 ms
    loose = SloThresholds.model_validate({RECORDINGS: {"p95_ms": 1000}})
    assert evaluate(stats, loose, strict)[0].ok  # the run's limit wins over the profile's


def test_route_keys_sit_beside_the_run_wide_limits() -> None:
    flat = SloThresholds.model_validate({RECORDINGS: {"p95_ms": 800}, "min_rps": 3})
    assert flat.routes == {RECORDINGS: RouteSlo(p95_ms=800)} and flat.min_rps == 3
    with pytest.raises(ValueError, match="not a route"):
        SloThresholds.model_validate({"routes": {"recordings": {"p95_ms": 1}}})


def test_missing_stats_file_is_an_infrastructure_error(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="Locust wrote no statistics"):
        read_stats(tmp_path)
