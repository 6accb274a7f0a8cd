"""The gate: turns a policy and a run's result into one signed verdict bound to a build.

Fail closed throughout: a required suite that is missing, skipped or errored is not a pass; a
target outside the policy's allowed_targets is refused before any traffic; the verdict is
signed (HMAC, CHAPERONE_GATE_KEY) so `flags enable` can prove where it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flags.policy import Policy, policy_hash
from flags.verdict import GateVerdict, SuiteResult, write_verdict
from harness.config import RunOptions, SloThresholds
from harness.errors import UsageError
from harness.models import Verdict
from reports.result import RunResult


def check_target_allowed(policy: Policy, url: str) -> None:
    """Synthetic-data traffic only ever goes to hosts the policy names (never production)."""
    if not policy.target_allowed(url):
        host = urlsplit(url).hostname or url
        raise UsageError(
            f"target host '{host}' is not in the policy's allowed_targets "
            f"({', '.join(policy.allowed_targets)})",
            "gate a staging deployment, or add its host pattern to allowed_targets",
        )


def gate_options(
    policy: Policy,
    seed: int,
    patients: int | None = None,
    timeout_seconds: float = 900.0,
    load_seconds: float = 20.0,
    workers: int = 0,
) -> RunOptions:
    """The run the policy asks for: at least its patients, clinicians and seeds."""
    return RunOptions(
        suites=tuple(policy.required_suites),
        patients=max(policy.min_patients, patients or 0),
        clinicians=policy.min_clinicians,
        seed=seed,
        extra_seeds=tuple(seed + i for i in range(1, policy.min_seeds)),
        slo=SloThresholds(**policy.slo.model_dump()),
        timeout_seconds=timeout_seconds,
        load_seconds=load_seconds,
        workers=workers,
        min_coverage=policy.min_coverage,
    )


def suite_results(policy: Policy, result: RunResult) -> dict[str, SuiteResult]:
    """Each required suite's merged verdict over every seed it ran with; 'missing' if none."""
    merged: dict[str, SuiteResult] = {}
    for name in policy.required_suites:
        runs = [s.verdict for s in result.suites if s.name.split("@", 1)[0] == name]
        merged[name] = Verdict.merge(*runs).value if runs else "missing"
    return merged


def decide(policy: Policy, result: RunResult) -> Verdict:
    """The run's verdict, made stricter: any required suite not passed fails the gate."""
    suites = suite_results(policy, result)
    if result.verdict is Verdict.ERROR or "error" in suites.values():
        return Verdict.ERROR
    if "missing" in suites.values():
        return Verdict.ERROR
    if result.verdict is Verdict.FAIL or "fail" in suites.values():
        return Verdict.FAIL
    return Verdict.PASS if result.verdict is Verdict.PASS else Verdict.ERROR


def build_verdict(
    policy: Policy, result: RunResult, build: str, target: str, now: datetime | None = None
) -> GateVerdict:
    created = now or datetime.now(UTC)
    return GateVerdict(
        verdict=decide(policy, result).value,
        build=build,
        policy_hash=policy_hash(policy),
        target=target,
        flag=policy.flag,
        suites=suite_results(policy, result),
        findings=len(result.failing_findings),
        created_at=created,
        expires_at=created + timedelta(seconds=float(policy.verdict_ttl)),
        run_id=result.run_id,
    )


def write_gate_verdict(verdict: GateVerdict, out_dir: Path) -> Path:
    return write_verdict(verdict, out_dir / "verdict.json")
