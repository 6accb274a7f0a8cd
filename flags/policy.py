"""The release policy for a feature flag: which suites must pass, the SLOs, how big the synthetic
population must be, how long a verdict stays valid, the rollout stages and which targets may be
tested. Loaded from YAML into a strict pydantic model; a bad file fails with one line that names
the field and suggests a fix."""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from harness.acceptance import AcceptedExposure
from harness.bounded import read_bounded
from harness.config import SloThresholds as RunSlo
from harness.errors import ConfigError
from harness.modelfile import load_model
from harness.profile import resolve_profile

DEFAULT_POLICY = Path(__file__).parent / "policies" / "video-switch.yaml"
SCHEMA_PATH = Path(__file__).parent / "policy.schema.json"
# Upper bounds: a policy is a reviewed file, but a typo (an extra zero) must not turn a gate
# into an hours-long run or a memory blow-up, nor a verdict into a licence that never expires.
MAX_POPULATION = 1_000
MAX_SEEDS = 20
MAX_VERDICT_TTL = 30 * 86_400

Suite = Literal["switch", "access", "stateful", "load", "browser", "fuzz"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A label like "prod" or "production" in a host pattern means someone pointed the synthetic
# population at real people; that is never a valid staging target.
# What is left of a host pattern without its wildcards (`*`, `?`, `[...]`): nothing but dots
# means it matches every host (`*`, `?*`, `*.*`, `[!x]*`).
_LITERAL = re.compile(r"\[[^\]]*\]?|[*?]")
_PRODUCTION_LABEL = re.compile(r"(^|[.-])(prod|production|live)([.-]|$)", re.IGNORECASE)


def parse_duration(value: object) -> object:
    """Accepts 3600, "3600", "90s", "30m", "24h" or "7d" and returns seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a duration; use seconds or e.g. '30m', '24h', '7d'")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION.pattern},
            ],
            "description": "seconds, or a number with a unit: s, m, h, d (e.g. '24h')",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SloThresholds(RunSlo):
    """The run's SLOs, the whole-run ones required; route limits are keyed by route, e.g.
    `GET /api/items: {p95_ms: 800}` (the profile's `load.slo` names the routes)."""

    max_error_rate: float = Field(ge=0, le=1, description="fraction of failed requests")
    min_rps: float = Field(ge=0, description="sustained requests per second under load")


class RolloutStage(_Strict):
    percent: int = Field(ge=1, le=100)
    watch_seconds: int = Field(ge=0, description="how long to watch before the next stage")


class Policy(_Strict):
    flag: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    environments: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]] = Field(
        min_length=1
    )
    required_suites: list[Suite] = Field(min_length=1)
    slo: SloThresholds
    min_population: dict[str, Annotated[int, Field(ge=0, le=MAX_POPULATION)]] = Field(
        default_factory=dict,
        description="users per role and resources per owner the run has at least, keyed by the "
        "profile's role and resource names, e.g. {user: 20, admin: 2}; a name left out "
        "takes the profile's count",
    )
    min_seeds: int = Field(
        ge=1, le=MAX_SEEDS, description="distinct random seeds the suites must run with"
    )
    verdict_ttl: Annotated[Duration, Field(le=MAX_VERDICT_TTL)]
    rollout_stages: list[RolloutStage] = Field(min_length=1)
    allowed_targets: list[str] = Field(min_length=1, description="host patterns (fnmatch)")
    profile: str = Field(
        "clinic",
        min_length=1,
        description="the target profile the gate drives: a built-in name (clinic) or a path "
        "to a profile YAML, relative to this policy file",
    )
    min_coverage: float = Field(
        0.95,
        ge=0,
        le=1,
        description="share of planned reads that must really be checked (a live session, no "
        "5xx, no timeout); less makes the verdict `error`",
    )
    fuzz_examples: int = Field(
        3,
        ge=1,
        le=10_000,
        description="when `fuzz` is required: examples Schemathesis generates per operation and "
        "phase; with fuzz_seconds it bounds the gate's fuzz time",
    )
    fuzz_seconds: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="when `fuzz` is required: its time limit per seed, warm-up included; an "
        "operation it did not reach in time makes the suite `error`, never a pass",
    )
    accepted_exposures: list[AcceptedExposure] = Field(
        default_factory=list,
        description="known exposures that do not fail the gate until they expire",
    )

    @field_validator("required_suites")
    @classmethod
    def _unique_suites(cls, suites: list[Suite]) -> list[Suite]:
        if len(set(suites)) != len(suites):
            raise ValueError("lists a suite twice; list each suite once")
        return suites

    @field_validator("rollout_stages")
    @classmethod
    def _stages_climb_to_100(cls, stages: list[RolloutStage]) -> list[RolloutStage]:
        percents = [stage.percent for stage in stages]
        if any(b <= a for a, b in itertools.pairwise(percents)):
            raise ValueError(f"percents {percents} must be strictly increasing")
        if percents[-1] != 100:
            raise ValueError(f"the last stage is {percents[-1]}%; the last stage must be 100")
        return stages

    @field_validator("allowed_targets")
    @classmethod
    def _staging_only(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not _LITERAL.sub("", pattern).strip("."):
                raise ValueError(f"'{pattern}' matches every host; name the staging hosts")
            if _PRODUCTION_LABEL.search(pattern):
                raise ValueError(f"'{pattern}' looks like production; only staging hosts allowed")
        return patterns

    def target_allowed(self, url: str) -> bool:
        """True if the URL is http(s) and its host matches one of allowed_targets."""
        return target_allowed(self.allowed_targets, url)

    def profile_path(self, policy_file: Path | str) -> Path:
        """The target profile file: a built-in name resolves to harness/profiles/<name>.yaml,
        anything else is a path relative to the policy file (harness.profile's one rule)."""
        return resolve_profile(self.profile, Path(policy_file).parent)


def target_allowed(patterns: list[str], url: str) -> bool:
    """The host must match a pattern and carry no production label: a broad pattern such as
    `*.example` must not let `clinic.prod.example` through."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or looks_like_production(host):
        return False
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in patterns)


def is_loopback(url: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: where a developer runs the bundled clinic by hand."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def looks_like_production(host: str) -> bool:
    return bool(_PRODUCTION_LABEL.search(host))


def load_policy(path: Path | str) -> Policy:
    return load_model(Policy, path, "policy", SCHEMA_PATH.name)


def canonical_json(data: object) -> bytes:
    """The one serialization that hashes and signatures are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def policy_digest(document: dict[str, Any], profile_sha256: str) -> str:
    """The effective policy: the policy's canonical JSON and the profile it drives. A profile
    edit (say, a private field marked public) changes what the gate checks, so it changes this
    digest, and a pin on the old digest refuses verdicts gated under the edited profile."""
    bound = {"policy": document, "profile_sha256": profile_sha256}
    return hashlib.sha256(canonical_json(bound)).hexdigest()


@dataclass(frozen=True)
class BoundPolicy:
    """A policy together with the exact profile file it resolved to: what a verdict names."""

    policy: Policy
    uri: str
    profile_uri: str
    profile_sha256: str

    @property
    def document(self) -> dict[str, Any]:
        return self.policy.model_dump(mode="json")

    @property
    def digest(self) -> str:
        return policy_digest(self.document, self.profile_sha256)


def bind_policy(path: Path | str) -> BoundPolicy:
    """Load the policy and hash the profile it names; a missing profile is a ConfigError."""
    policy = load_policy(path)
    profile = policy.profile_path(path)
    fix = "give `profile:` a built-in profile name or a path relative to the policy file"
    try:
        data = read_bounded(profile, "profile", fix=fix)
    except FileNotFoundError:
        raise ConfigError(
            f"policy {path} names profile '{policy.profile}', but {profile} cannot be read "
            "(no such file)",
            fix,
        ) from None
    return BoundPolicy(policy, str(path), policy.profile, hashlib.sha256(data).hexdigest())


def policy_schema_text() -> str:
    schema = Policy.model_json_schema()
    schema["title"] = "Chaperone release policy"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_policy_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(policy_schema_text(), encoding="utf-8")
    return path
