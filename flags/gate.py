"""The gate: turns a policy and a run's result into one signed verdict bound to a build.

Fail closed throughout: a required suite that is missing, skipped or errored is not a pass; a
target outside the policy's allowed_targets is refused before any traffic; the verdict is an
in-toto attestation signed with the gate's Ed25519 key (flags.verdict), so `flags enable` can
prove where it came from with the public key alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from flags.keys import SigningKey
from flags.policy import BoundPolicy, Policy, is_loopback, looks_like_production
from flags.verdict import GateVerdict, SuiteResult, build_digest_of, write_verdict
from harness.config import RunOptions, SloThresholds
from harness.errors import ConfigError, UsageError
from harness.models import Verdict
from reports.result import RunResult

VERDICT_FILE = "verdict.json"


def check_target_allowed(policy: Policy, url: str) -> None:
    """Synthetic-data traffic only ever goes to hosts the policy names (never production), or
    to this machine's loopback, where a gate's verdict is a reference one (`reference_only`)."""
    if not policy.target_allowed(url) and not reference_only(policy, url):
        host = urlsplit(url).hostname or without_credentials(url)
        if looks_like_production(host):
            raise UsageError(
                f"target host '{host}' looks like production; synthetic users never go there",
                "gate a staging deployment",
            )
        raise UsageError(
            f"target host '{host}' is not in the policy's allowed_targets "
            f"({', '.join(policy.allowed_targets)})",
            "gate a staging deployment, or add its host pattern to allowed_targets",
        )


def reference_only(policy: Policy, url: str) -> bool:
    """A loopback target the policy does not name is a developer's machine (the bundled clinic
    started by hand, most likely), not the build's deployment: its verdict enables only the
    reference environments. Naming 127.0.0.1 in allowed_targets is a team's explicit choice."""
    return is_loopback(url) and not policy.target_allowed(url)


def gate_options(
    policy: Policy,
    seed: int,
    population: Mapping[str, int] | None = None,
    timeout_seconds: float = 900.0,
    load_seconds: float = 20.0,
    workers: int = 0,
    media: Literal["header", "real"] = "header",
) -> RunOptions:
    """The run the policy asks for: at least its population (by the profile's names, raised
    where `population` asks for more) and seeds. Out-of-range numbers are one ConfigError
    naming the option, before any traffic."""
    more = population or {}
    try:
        return RunOptions(
            suites=tuple(policy.required_suites),
            population={
                **more,
                **{k: max(v, more.get(k, 0)) for k, v in policy.min_population.items()},
            },
            seed=seed,
            extra_seeds=tuple(seed + i for i in range(1, policy.min_seeds)),
            slo=SloThresholds.model_validate(policy.slo.model_dump()),
            timeout_seconds=timeout_seconds,
            load_seconds=load_seconds,
            workers=workers,
            min_coverage=policy.min_coverage,
            fuzz_examples=policy.fuzz_examples,
            fuzz_seconds=policy.fuzz_seconds,
            media=media,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        name = {"timeout_seconds": "timeout"}.get(str(error["loc"][0]), str(error["loc"][0]))
        raise ConfigError(
            f"--{name.replace('_', '-')}: {error['msg']}", "see `chaperone gate --help`"
        ) from None


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
    bound: BoundPolicy,
    result: RunResult,
    build: str,
    target: str,
    *,
    reference: bool,
    build_digest: str | None = None,
    inputs: Sequence[tuple[str, str]] = (),
    now: datetime | None = None,
    media: Literal["header", "real"] = "header",
) -> GateVerdict:
    """`reference` is True when the gate drove the bundled clinic instead of the build's own
    deployment: such a verdict proves the harness, not the build."""
    policy, created = bound.policy, now or datetime.now(UTC)
    coverage = getattr(result, "coverage", None)
    # Once accepted exposures exist (the lead's RunResult), only the failing ones count.
    failing = getattr(result, "failing_findings", result.findings)
    return GateVerdict(
        verdict=decide(policy, result).value,
        build=build,
        build_digest=(build_digest or build_digest_of(build)).lower(),
        policy_hash=bound.digest,
        policy_uri=Path(bound.uri).name,
        policy=bound.document,
        profile_uri=bound.profile_uri,
        profile_sha256=bound.profile_sha256,
        target=without_credentials(target),
        flag=policy.flag,
        reference=reference,
        suites=suite_results(policy, result),
        findings=len(failing),
        coverage=coverage if isinstance(coverage, float | int) else None,
        exposures=len(result.exposures),
        created_at=created,
        expires_at=created + timedelta(seconds=float(policy.verdict_ttl)),
        run_id=result.run_id,
        inputs=tuple(inputs),
        media=media,
    )


def without_credentials(url: str) -> str:
    """The URL with any user:password@ removed: a verdict and a report name hosts, not logins."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def write_gate_verdict(verdict: GateVerdict, out_dir: Path, key: SigningKey) -> Path:
    return write_verdict(verdict, out_dir / VERDICT_FILE, key)


def discard_old_verdict(out_dir: Path) -> None:
    """A gate re-run in the same --out first removes the old verdict: if this run is killed, no
    earlier pass is left behind for `flags enable` to pick up."""
    (out_dir / VERDICT_FILE).unlink(missing_ok=True)
