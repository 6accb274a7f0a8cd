"""The gate verdict as a signed, standard attestation: an in-toto Statement v1 in a DSSE
envelope, signed with the gate's Ed25519 key.

    envelope (verdict.json)
      payloadType: application/vnd.in-toto+json
      payload: Statement
        subject:       [{name: <build id>, digest: {sha256: <build digest>}}]
        predicateType: PREDICATE_TYPE
        predicate:     SLSA's Verification Summary Attestation fields (verifier, timeVerified,
                       resourceUri, policy {uri, digest}, inputAttestations, verificationResult)
                       plus what a flag decision needs: result, flag, target, reference, suites,
                       findings, coverage, exposures, expiresAt, runId, the policy document and
                       the profile it drove.

`verify_for_enable` is the only way a flag gets turned on, and it fails closed: anything it
cannot prove safe is a GateRefused (exit 1).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from flags import dsse
from flags.keys import SigningKey, VerifyKey
from flags.policy import Policy, canonical_json, is_loopback, policy_digest
from harness.errors import GateRefused

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://chaperone.invalid/attestations/gate-verdict/v1"
VERIFIER_ID = "https://chaperone.invalid/gate"
VERSION = "0.1.0"
# A reference verdict (the bundled clinic, not the build's own deployment) proves the harness
# works, not that the build is safe: it may enable only these environments.
REFERENCE_ENVIRONMENTS = frozenset({"development"})
MAX_VERDICT_BYTES = 1024 * 1024
_HEX64 = r"^[0-9a-f]{64}$"
_RERUN = "re-run the gate to produce a new verdict"

SuiteResult = Literal["pass", "fail", "error", "missing"]


def build_digest_of(build: str) -> str:
    """The subject digest when the pipeline gives none: sha256 of the build id."""
    return hashlib.sha256(build.encode()).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Digest(_Model):
    sha256: str = Field(pattern=_HEX64)


class ResourceDescriptor(_Model):
    uri: str
    digest: Digest


class Verifier(_Model):
    id: str
    version: dict[str, str] = Field(default_factory=dict)


class GatePredicate(_Model):
    verifier: Verifier
    time_verified: AwareDatetime
    resource_uri: str
    policy: ResourceDescriptor
    input_attestations: list[ResourceDescriptor] = Field(default_factory=list)
    verification_result: Literal["PASSED", "FAILED"]
    result: Literal["pass", "fail", "error"]
    build: str = Field(min_length=1)
    flag: str
    target: str
    reference: bool
    suites: dict[str, SuiteResult]
    findings: int = Field(ge=0)
    coverage: float | None = Field(default=None, ge=0, le=1)
    exposures: int = Field(ge=0)
    expires_at: AwareDatetime
    run_id: str
    policy_document: dict[str, Any]
    profile: ResourceDescriptor
    # How the calls were judged: "real" (WebRTC callers, recordings decoded from their pixels
    # and sound) or "header" (flows only). Verdicts signed before this field read as header.
    media: Literal["header", "real"] = "header"


class Subject(_Model):
    name: str = Field(min_length=1)
    digest: Digest


class Statement(_Model):
    type: Literal["https://in-toto.io/Statement/v1"] = Field(alias="_type")
    subject: list[Subject] = Field(min_length=1, max_length=1)
    predicate_type: Literal["https://chaperone.invalid/attestations/gate-verdict/v1"]
    predicate: GatePredicate


class GateVerdict(BaseModel):
    """The flat view of a verdict that the gate builds and the checks read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Literal["pass", "fail", "error"]
    build: str = Field(min_length=1)
    build_digest: str = Field(pattern=_HEX64)
    policy_hash: str = Field(pattern=_HEX64)
    policy_uri: str
    policy: dict[str, Any]
    profile_uri: str
    profile_sha256: str = Field(pattern=_HEX64)
    target: str
    flag: str
    reference: bool
    suites: dict[str, SuiteResult]
    findings: int = Field(ge=0)
    coverage: float | None = None
    exposures: int = Field(0, ge=0)
    created_at: AwareDatetime
    expires_at: AwareDatetime
    run_id: str
    inputs: tuple[tuple[str, str], ...] = ()  # (uri, sha256) of the reports it summarises
    media: Literal["header", "real"] = "header"  # real: the calls were real WebRTC media

    def statement(self) -> Statement:
        return Statement(
            type=STATEMENT_TYPE,
            subject=[Subject(name=self.build, digest=Digest(sha256=self.build_digest))],
            predicate_type=PREDICATE_TYPE,
            predicate=GatePredicate(
                verifier=Verifier(id=VERIFIER_ID, version={"chaperone": VERSION}),
                time_verified=self.created_at,
                resource_uri=self.build,
                policy=_resource(self.policy_uri, self.policy_hash),
                input_attestations=[_resource(uri, digest) for uri, digest in self.inputs],
                verification_result="PASSED" if self.verdict == "pass" else "FAILED",
                result=self.verdict,
                build=self.build,
                flag=self.flag,
                target=self.target,
                reference=self.reference,
                suites=self.suites,
                findings=self.findings,
                coverage=self.coverage,
                exposures=self.exposures,
                expires_at=self.expires_at,
                run_id=self.run_id,
                policy_document=self.policy,
                profile=_resource(self.profile_uri, self.profile_sha256),
                media=self.media,
            ),
        )

    @classmethod
    def from_statement(cls, statement: Statement) -> GateVerdict:
        p, (subject,) = statement.predicate, statement.subject
        if subject.name != p.build or (p.verification_result == "PASSED") != (p.result == "pass"):
            raise GateRefused("verdict contradicts itself (subject or result)", _RERUN)
        return cls(
            verdict=p.result,
            build=subject.name,
            build_digest=subject.digest.sha256,
            policy_hash=p.policy.digest.sha256,
            policy_uri=p.policy.uri,
            policy=p.policy_document,
            profile_uri=p.profile.uri,
            profile_sha256=p.profile.digest.sha256,
            target=p.target,
            flag=p.flag,
            reference=p.reference,
            suites=p.suites,
            findings=p.findings,
            coverage=p.coverage,
            exposures=p.exposures,
            created_at=p.time_verified,
            expires_at=p.expires_at,
            run_id=p.run_id,
            inputs=tuple((r.uri, r.digest.sha256) for r in p.input_attestations),
            media=p.media,
        )


def _resource(uri: str, sha256: str) -> ResourceDescriptor:
    return ResourceDescriptor(uri=uri, digest=Digest(sha256=sha256))


# -- writing and reading ----------------------------------------------------------------------


def envelope_of(verdict: GateVerdict, key: SigningKey) -> dict[str, Any]:
    payload = verdict.statement().model_dump(mode="json", by_alias=True)
    return dsse.sign(canonical_json(payload), key)


def write_verdict(verdict: GateVerdict, path: Path, key: SigningKey) -> Path:
    document = envelope_of(verdict, key)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def file_sha256(path: Path) -> str | None:
    """For the audit log: None for anything that is not a verdict-sized regular file (a device
    such as /dev/zero would never end)."""
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            data = handle.read(MAX_VERDICT_BYTES + 1)
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest() if len(data) <= MAX_VERDICT_BYTES else None


def read_signed(path: Path, key: VerifyKey) -> GateVerdict:
    """The verdict in `path` if `key` signed it; GateRefused otherwise."""
    payload = dsse.open_envelope(_read_document(path), key)
    try:
        statement = Statement.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise GateRefused(
            f"verdict {path} is not a gate-verdict statement at '{field}': {first['msg']}", _RERUN
        ) from None
    return GateVerdict.from_statement(statement)


def _read_document(path: Path) -> dict[str, Any]:
    hint = "pass --verdict with the verdict.json a gate run wrote"
    try:
        if not path.exists():
            raise GateRefused(f"verdict {path} is unreadable (no such file)", hint)
        if not path.is_file():
            raise GateRefused(f"verdict {path} is not a regular file", hint)
        with path.open("rb") as handle:
            data = handle.read(MAX_VERDICT_BYTES + 1)
    except OSError as exc:
        raise GateRefused(f"verdict {path} is unreadable ({type(exc).__name__})", hint) from None
    if len(data) > MAX_VERDICT_BYTES:
        raise GateRefused(f"verdict {path} is larger than {MAX_VERDICT_BYTES} bytes", hint)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateRefused(f"verdict {path} is unreadable ({type(exc).__name__})", hint) from None
    except RecursionError:  # 200 KB of `[`: the parser recurses once per level
        raise GateRefused(f"verdict {path} is nested too deeply to be a verdict", hint) from None
    if not isinstance(document, dict):
        raise GateRefused(f"verdict {path} is not a JSON object", hint)
    return document


# -- the decision -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnableRequest:
    """What the enabler asks for, and what the flag's own backend says about it.

    `flags enable` names the build it turns on. `watch --stages` names none: it asks about the
    build already live, which the backend knows only by `live_digest`. Both go through
    `verify_for_enable`, so every check there holds for the watch's stages too.
    """

    flag: str
    env: str
    build: str | None  # None: whichever build is live (`live_digest`), for the watch
    pin: str | None
    revoked: frozenset[str]
    now: datetime
    build_digest: str | None = None
    live_digest: str | None = None  # build_digest_of the build live in `env`, if known


@dataclass(frozen=True)
class Proven:
    verdict: GateVerdict
    policy: Policy


def verify_for_enable(path: Path, key: VerifyKey, request: EnableRequest) -> Proven:
    """The verdict and the policy it was gated under, if they prove `request` safe."""
    verdict = read_signed(Path(path), key)
    policy = _pinned_policy(verdict, request)
    for check in (_same_flag, _environment, _fresh, _same_build, _target, _passed, _suites):
        check(verdict, policy, request)
    _not_revoked(verdict, request)
    return Proven(verdict, policy)


def _pinned_policy(verdict: GateVerdict, request: EnableRequest) -> Policy:
    return policy_under_pin(verdict, request.flag, request.pin)


def policy_under_pin(verdict: GateVerdict, flag: str, pin: str | None) -> Policy:
    """The policy embedded in the verdict, if it is the one pinned on the flag."""
    if pin is None:
        raise GateRefused(
            f"flag '{flag}' has no pinned policy",
            f"pin the release policy first: chaperone flags pin {flag} --policy FILE",
        )
    if not hmac.compare_digest(verdict.policy_hash, pin):
        raise GateRefused(
            f"verdict policy digest {verdict.policy_hash[:12]} does not match the policy pinned "
            f"on the flag ({pin[:12]})",
            "re-run the gate under the pinned policy",
        )
    if policy_digest(verdict.policy, verdict.profile_sha256) != verdict.policy_hash:
        raise GateRefused("verdict's policy document does not match its digest", _RERUN)
    try:
        return Policy.model_validate(verdict.policy)
    except ValidationError:
        raise GateRefused("verdict's policy document is not a valid policy", _RERUN) from None


def _same_flag(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    if verdict.flag != request.flag or policy.flag != request.flag:
        raise GateRefused(
            f"verdict is for flag '{verdict.flag}', not '{request.flag}'",
            "use the verdict produced for this flag",
        )


def _environment(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    if request.env not in policy.environments:
        raise GateRefused(
            f"environment '{request.env}' is not in the pinned policy's environments "
            f"{policy.environments}",
            "pick one of those with --env",
        )
    if verdict.reference and request.env not in REFERENCE_ENVIRONMENTS:
        raise GateRefused(
            f"verdict is a reference verdict (gated against the bundled clinic, not the build's "
            f"deployment); it enables only {', '.join(sorted(REFERENCE_ENVIRONMENTS))}",
            "gate the build's own staging deployment with --target",
        )


def _fresh(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    if request.now >= verdict.expires_at:
        raise GateRefused(
            f"verdict expired at {verdict.expires_at.isoformat()}",
            "re-run the gate against this build",
        )
    if verdict.created_at > request.now:
        raise GateRefused(
            f"verdict was created in the future ({verdict.created_at.isoformat()})",
            "check the clocks and re-run the gate",
        )
    if (verdict.expires_at - verdict.created_at).total_seconds() > policy.verdict_ttl:
        raise GateRefused("verdict outlives the policy's verdict_ttl", _RERUN)


def _same_build(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    if request.build is not None and not hmac.compare_digest(verdict.build, request.build):
        raise GateRefused(
            f"verdict is for build '{verdict.build}', not '{request.build}'",
            "run the gate against the build you are enabling",
        )
    live = request.live_digest
    if live is not None and not hmac.compare_digest(build_digest_of(verdict.build), live):
        raise GateRefused(
            f"verdict is for build '{verdict.build}', which is not the build live in {request.env}",
            "pass the verdict that enabled the live build",
        )
    wanted = request.build_digest
    if wanted is not None and not hmac.compare_digest(verdict.build_digest, wanted.lower()):
        raise GateRefused(
            f"verdict's build digest {verdict.build_digest[:12]} is not {wanted[:12]}",
            "run the gate against the artefact you are enabling",
        )


def _target(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    # A reference verdict may name this machine's loopback (the bundled clinic); a release
    # verdict only a host the policy names.
    on_loopback = verdict.reference and is_loopback(verdict.target)
    if not policy.target_allowed(verdict.target) and not on_loopback:
        raise GateRefused(
            f"verdict target {verdict.target} is not an allowed staging target",
            "run the gate against a host listed in allowed_targets",
        )


def _passed(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
    if verdict.verdict != "pass" or verdict.findings:
        raise GateRefused(
            f"verdict is '{verdict.verdict}' with {verdict.findings} finding(s)",
            "fix the findings and re-run the gate",
        )


def _suites(verdict: GateVerdict, policy: Policy, request: EnableRequest) -> None:
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


def _not_revoked(verdict: GateVerdict, request: EnableRequest) -> None:
    if build_digest_of(verdict.build) in request.revoked:
        raise GateRefused(
            f"build '{verdict.build}' is revoked for '{request.flag}'",
            "a revoked build never comes back; gate and enable a new build",
        )
