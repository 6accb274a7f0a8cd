"""The signed gate verdict: what a gate run proved, for which build, under which policy.

A verdict file is the verdict's fields plus `signature`, an HMAC-SHA256 over the canonical JSON
of every other field, keyed by CHAPERONE_GATE_KEY. `verify_for_enable` is the only way a flag
gets turned on, and it fails closed: anything it cannot prove safe is a GateRefused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from flags.policy import Policy, canonical_json, policy_hash
from harness.errors import GateRefused, UsageError

KEY_ENV = "CHAPERONE_GATE_KEY"
SIGNATURE_FIELD = "signature"
_SIG_PREFIX = "hmac-sha256:"

SuiteResult = Literal["pass", "fail", "error", "missing"]


class GateVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Literal["pass", "fail", "error"]
    build: str = Field(min_length=1)
    policy_hash: str = Field(min_length=64, max_length=64)
    target: str
    flag: str
    suites: dict[str, SuiteResult]
    findings: int = Field(ge=0)
    created_at: AwareDatetime
    expires_at: AwareDatetime
    run_id: str


def gate_key() -> bytes:
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise UsageError(
            f"{KEY_ENV} is not set",
            f"export {KEY_ENV} with the shared gate secret used to sign verdicts",
        )
    return key.encode()


def _signature(payload: dict[str, Any], key: bytes) -> str:
    digest = hmac.new(key, canonical_json(payload), hashlib.sha256).hexdigest()
    return _SIG_PREFIX + digest


def signed_document(verdict: GateVerdict, key: bytes | None = None) -> dict[str, Any]:
    payload = verdict.model_dump(mode="json")
    return {**payload, SIGNATURE_FIELD: _signature(payload, key or gate_key())}


def write_verdict(verdict: GateVerdict, path: Path, key: bytes | None = None) -> Path:
    document = signed_document(verdict, key)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def read_signed(path: Path, key: bytes | None = None) -> GateVerdict:
    """The verdict in `path` if its signature is genuine; GateRefused otherwise."""
    document = _read_document(path)
    key = key or gate_key()
    claimed = document.pop(SIGNATURE_FIELD, None)
    if not isinstance(claimed, str) or not hmac.compare_digest(
        claimed.encode(), _signature(document, key).encode()
    ):
        raise GateRefused(
            f"verdict {path} has a bad signature (forged or altered)",
            "re-run the gate; never edit a verdict file by hand",
        )
    try:
        return GateVerdict.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise GateRefused(
            f"verdict {path} is malformed at '{field}': {first['msg']}",
            "re-run the gate to produce a new verdict",
        ) from None


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateRefused(
            f"verdict {path} is unreadable ({type(exc).__name__})",
            "pass --verdict with the verdict.json a gate run wrote",
        ) from None
    if not isinstance(document, dict):
        raise GateRefused(
            f"verdict {path} is not a JSON object",
            "pass --verdict with the verdict.json a gate run wrote",
        )
    return document


def verify_for_enable(path: Path, build: str, policy: Policy, now: datetime) -> GateVerdict:
    """The verdict, if it proves that `build` may have `policy.flag` enabled at `now`."""
    verdict = read_signed(Path(path))
    for check in (_fresh, _same_build, _same_policy, _passed, _suites_passed):
        check(verdict, build, policy, now)
    return verdict


def _fresh(verdict: GateVerdict, build: str, policy: Policy, now: datetime) -> None:
    if now >= verdict.expires_at:
        raise GateRefused(
            f"verdict expired at {verdict.expires_at.isoformat()}",
            "re-run the gate against this build",
        )
    if verdict.created_at > now:
        raise GateRefused(
            f"verdict was created in the future ({verdict.created_at.isoformat()})",
            "check the clocks and re-run the gate",
        )


def _same_build(verdict: GateVerdict, build: str, policy: Policy, now: datetime) -> None:
    if not hmac.compare_digest(verdict.build, build):
        raise GateRefused(
            f"verdict is for build '{verdict.build}', not '{build}'",
            "run the gate against the build you are enabling",
        )


def _same_policy(verdict: GateVerdict, build: str, policy: Policy, now: datetime) -> None:
    expected = policy_hash(policy)
    if verdict.policy_hash != expected:
        raise GateRefused(
            f"verdict policy hash {verdict.policy_hash[:12]} does not match the "
            f"current policy {expected[:12]}",
            "re-run the gate under this policy",
        )
    if verdict.flag != policy.flag:
        raise GateRefused(
            f"verdict is for flag '{verdict.flag}', not '{policy.flag}'",
            "use the verdict produced for this flag",
        )
    if not policy.target_allowed(verdict.target):
        raise GateRefused(
            f"verdict target {verdict.target} is not an allowed staging target",
            "run the gate against a host listed in allowed_targets",
        )


def _passed(verdict: GateVerdict, build: str, policy: Policy, now: datetime) -> None:
    if verdict.verdict != "pass" or verdict.findings:
        raise GateRefused(
            f"verdict is '{verdict.verdict}' with {verdict.findings} finding(s)",
            "fix the findings and re-run the gate",
        )


def _suites_passed(verdict: GateVerdict, build: str, policy: Policy, now: datetime) -> None:
    for suite in policy.required_suites:
        result = verdict.suites.get(suite, "missing")
        if result != "pass":
            raise GateRefused(
                f"required suite '{suite}' is {result}",
                "run every suite the policy requires until all pass",
            )
    failed = sorted(name for name, result in verdict.suites.items() if result != "pass")
    if failed:
        raise GateRefused(
            f"suite '{failed[0]}' is {verdict.suites[failed[0]]}",
            "every suite in the verdict must pass",
        )
