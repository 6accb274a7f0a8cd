"""The gate's verdict is stricter than the run's: a required suite that is missing, errored or
failed on any seed blocks the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from flags.gate import (
    build_verdict,
    check_target_allowed,
    decide,
    gate_options,
    suite_results,
    without_credentials,
)
from flags.policy import DEFAULT_POLICY, bind_policy, load_policy
from flags.verdict import build_digest_of
from harness.config import RunOptions
from harness.errors import ConfigError, UsageError
from harness.events import Event, FindingRaised, RunFinished, RunStarted, SuiteFinished
from harness.models import Verdict
from reports.result import RunCollector, RunResult
from tests.reports.streams import finding

POLICY = load_policy(DEFAULT_POLICY)


def result_of(suites: dict[str, Verdict], findings: int = 0) -> RunResult:
    names = tuple(suites)
    events: list[Event] = [RunStarted("r1", "http://127.0.0.1:1", 0, names, 0.0, "b1")]
    events += [FindingRaised("switch", finding(suite="switch")) for _ in range(findings)]
    events += [SuiteFinished(n, v, 1.0, 1.0) for n, v in suites.items()]
    events.append(RunFinished(Verdict.merge(*suites.values()), 1.0, 2.0))
    return RunCollector().consume(events)


ALL_PASS = {s: Verdict.PASS for s in POLICY.required_suites}


def test_every_required_suite_passed_is_a_pass() -> None:
    result = result_of({**ALL_PASS, "switch@seed=1": Verdict.PASS})
    assert decide(POLICY, result) is Verdict.PASS
    assert set(suite_results(POLICY, result).values()) == {"pass"}


def test_a_missing_required_suite_is_an_error_not_a_pass() -> None:
    partial = {k: v for k, v in ALL_PASS.items() if k != "browser"}
    assert decide(POLICY, result_of(partial)) is Verdict.ERROR
    assert suite_results(POLICY, result_of(partial))["browser"] == "missing"


def test_a_failure_on_a_later_seed_fails_the_suite() -> None:
    result = result_of({**ALL_PASS, "switch@seed=1": Verdict.FAIL}, findings=1)
    assert suite_results(POLICY, result)["switch"] == "fail"
    assert decide(POLICY, result) is Verdict.FAIL


def test_error_beats_fail() -> None:
    result = result_of({**ALL_PASS, "load": Verdict.ERROR, "switch": Verdict.FAIL}, findings=1)
    assert decide(POLICY, result) is Verdict.ERROR


def test_verdict_is_bound_to_build_policy_and_expiry(tmp_path: Path) -> None:
    from tests.flags.conftest import write_policy

    bound = bind_policy(write_policy(tmp_path))
    url = "http://ann:pw@127.0.0.1:1"
    verdict = build_verdict(bound, result_of(ALL_PASS), "build-7", url, reference=False)
    assert verdict.build == "build-7" and verdict.verdict == "pass"
    assert verdict.build_digest == build_digest_of("build-7")
    assert verdict.policy_hash == bound.digest and verdict.policy == bound.document
    assert verdict.expires_at > verdict.created_at
    assert verdict.target == "http://127.0.0.1:1"  # L3: no credentials in a verdict
    reference = build_verdict(bound, result_of(ALL_PASS), "b", url, reference=True)
    assert reference.reference is True


def test_without_credentials() -> None:
    assert without_credentials("https://u:p@h.example:8/x?y") == "https://h.example:8/x?y"
    assert without_credentials("https://h.example/x") == "https://h.example/x"


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"timeout_seconds": 0}, "--timeout"),
        ({"population": {"patient": 20_000}}, "--population"),
        ({"workers": -1}, "--workers"),
        ({"load_seconds": 0}, "--load-seconds"),
    ],
)
def test_out_of_range_gate_options_are_one_config_error(changes: dict, option: str) -> None:
    """L1: these were tracebacks."""
    with pytest.raises(ConfigError, match=option) as info:
        gate_options(POLICY, seed=0, **changes)
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    "url",
    [
        "https://clinic.production.example",
        "http://10.0.0.8:80",
        "https://clinic.prod.staging.example",
    ],
)
def test_targets_outside_the_policy_are_refused(url: str) -> None:
    with pytest.raises(UsageError, match=r"allowed_targets|looks like production"):
        check_target_allowed(POLICY, url)


def test_gate_options_follow_the_policy_minimums() -> None:
    options = gate_options(POLICY, seed=10, population={"patient": 2, "appointment": 12})
    assert options.population == {**POLICY.min_population, "appointment": 12}
    more = gate_options(POLICY, seed=10, population={"patient": 50})
    assert more.population["patient"] == 50
    assert options.extra_seeds == tuple(range(11, 10 + POLICY.min_seeds))
    assert options.suites == tuple(POLICY.required_suites)
    assert options.slo.min_rps == POLICY.slo.min_rps
    # the fuzz budget is the policy's, not the run defaults' 300 s
    assert "fuzz" in options.suites
    assert (options.fuzz_examples, options.fuzz_seconds) == (
        POLICY.fuzz_examples,
        POLICY.fuzz_seconds,
    )
    assert options.fuzz_seconds < RunOptions().fuzz_seconds


def test_policy_path_exists() -> None:
    assert Path(DEFAULT_POLICY).exists()


def test_a_gate_with_real_calls_says_so_in_its_signed_verdict(tmp_path: Path) -> None:
    from flags.verdict import GateVerdict
    from tests.flags.conftest import write_policy

    bound = bind_policy(write_policy(tmp_path))
    options = gate_options(POLICY, seed=0, media="real")
    assert options.media == "real"
    real = build_verdict(bound, result_of(ALL_PASS), "b", "http://h", reference=True, media="real")
    assert GateVerdict.from_statement(real.statement()).media == "real"
    header = build_verdict(bound, result_of(ALL_PASS), "b", "http://h", reference=True)
    assert GateVerdict.from_statement(header.statement()).media == "header"
