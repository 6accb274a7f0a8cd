"""The release policy for a feature flag: which suites must pass, the SLOs, how big the synthetic
population must be, how long a verdict stays valid, the rollout stages and which targets may be
tested. Loaded from YAML into a strict pydantic model; a bad file fails with one line that names
the field and suggests a fix."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from harness.acceptance import AcceptedExposure
from harness.modelfile import load_model

DEFAULT_POLICY = Path(__file__).parent / "policies" / "video-switch.yaml"
SCHEMA_PATH = Path(__file__).parent / "policy.schema.json"

Suite = Literal["switch", "access", "stateful", "load", "browser", "fuzz"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A label like "prod" or "production" in a host pattern means someone pointed the synthetic
# population at real patients; that is never a valid staging target.
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


class SloThresholds(_Strict):
    recordings_list_p95_ms: float = Field(gt=0, description="p95 of GET recordings list")
    media_first_byte_p95_ms: float = Field(gt=0, description="p95 time to first media byte")
    max_error_rate: float = Field(ge=0, le=1, description="fraction of failed requests")
    min_rps: float = Field(ge=0, description="sustained requests per second under load")


class RolloutStage(_Strict):
    percent: int = Field(ge=1, le=100)
    watch_seconds: int = Field(ge=0, description="how long to watch before the next stage")


class Policy(_Strict):
    flag: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    environments: list[str] = Field(min_length=1)
    required_suites: list[Suite] = Field(min_length=1)
    slo: SloThresholds
    min_patients: int = Field(ge=2, description="a leak needs at least two patients")
    min_clinicians: int = Field(ge=1)
    min_seeds: int = Field(ge=1, description="distinct random seeds the suites must run with")
    verdict_ttl: Duration
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
            if pattern.strip("*.") == "":
                raise ValueError(f"'{pattern}' matches every host; name the staging hosts")
            if _PRODUCTION_LABEL.search(pattern):
                raise ValueError(f"'{pattern}' looks like production; only staging hosts allowed")
        return patterns

    def target_allowed(self, url: str) -> bool:
        """True if the URL is http(s) and its host matches one of allowed_targets."""
        return target_allowed(self.allowed_targets, url)


def target_allowed(patterns: list[str], url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in patterns)


def load_policy(path: Path | str) -> Policy:
    return load_model(Policy, path, "policy", SCHEMA_PATH.name)


def canonical_json(data: object) -> bytes:
    """The one serialization that hashes and signatures are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def policy_hash(policy: Policy) -> str:
    return hashlib.sha256(canonical_json(policy.model_dump(mode="json"))).hexdigest()


def policy_schema_text() -> str:
    schema = Policy.model_json_schema()
    schema["title"] = "Chaperone release policy"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_policy_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(policy_schema_text(), encoding="utf-8")
    return path
