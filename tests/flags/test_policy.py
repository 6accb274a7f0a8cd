from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flags.policy import (
    DEFAULT_POLICY,
    SCHEMA_PATH,
    Policy,
    load_policy,
    policy_hash,
    policy_schema_text,
)
from harness.errors import ConfigError


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_POLICY.read_text())


def test_shipped_policy_loads(policy: Policy) -> None:
    assert policy.flag == "video-switch"
    assert policy.verdict_ttl == 24 * 3600
    assert [s.percent for s in policy.rollout_stages][-1] == 100
    assert set(policy.required_suites) <= {"switch", "access", "stateful", "load", "browser"}


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == policy_schema_text(), (
        "flags/policy.schema.json is stale; run "
        "`python -c 'from flags.policy import write_policy_schema; write_policy_schema()'`"
    )


def test_misspelled_field_suggests_the_right_one(tmp_path: Path) -> None:
    raw = _raw()
    raw["requried_suites"] = raw.pop("required_suites")
    with pytest.raises(ConfigError) as info:
        load_policy(_write(tmp_path, raw))
    message = info.value.one_line()
    assert "unknown field 'requried_suites' (did you mean 'required_suites'?)" in message
    assert "\n" not in message


def test_misspelled_nested_field_names_its_path(tmp_path: Path) -> None:
    raw = _raw()
    raw["slo"]["max_eror_rate"] = raw["slo"].pop("max_error_rate")
    with pytest.raises(
        ConfigError, match=r"unknown field 'slo.max_eror_rate' \(did you mean 'max_error_rate'\?\)"
    ):
        load_policy(_write(tmp_path, raw))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["rollout_stages"].reverse(), "rollout_stages"),
        (lambda r: r["rollout_stages"].pop(), "last stage must be 100"),
        (lambda r: r.update(required_suites=["switch", "smoke"]), "required_suites.1"),
        (lambda r: r["slo"].update(max_error_rate=2), "slo.max_error_rate"),
        (lambda r: r.update(verdict_ttl="tomorrow"), "verdict_ttl"),
        (lambda r: r.update(min_patients=1), "min_patients"),
        (lambda r: r.pop("slo"), "field 'slo' is required"),
        (lambda r: r.update(allowed_targets=["*"]), "matches every host"),
        (lambda r: r.update(allowed_targets=["api.prod.example.com"]), "looks like production"),
    ],
)
def test_invalid_policy_names_the_field(tmp_path: Path, mutate, expected: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError, match=expected):
        load_policy(_write(tmp_path, raw))


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("flag: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)


@pytest.mark.parametrize("ttl", ["24h", "1440m", "86400s", "1d", 86400, "86400"])
def test_ttl_units(tmp_path: Path, ttl: object) -> None:
    raw = _raw()
    raw["verdict_ttl"] = ttl
    assert load_policy(_write(tmp_path, raw)).verdict_ttl == 86400


def test_policy_hash_is_stable_and_sensitive(tmp_path: Path, policy: Policy) -> None:
    raw = _raw()
    raw["verdict_ttl"] = "1d"  # same meaning, different spelling: same hash
    assert policy_hash(load_policy(_write(tmp_path, raw))) == policy_hash(policy)
    raw["min_patients"] = policy.min_patients + 1
    assert policy_hash(load_policy(_write(tmp_path, raw))) != policy_hash(policy)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/api", True),
        ("http://localhost:9000", True),
        ("https://clinic.staging.example/path", True),
        ("https://CLINIC.STAGING.EXAMPLE", True),
        ("https://clinic.example.com", False),
        ("https://staging.example", False),
        ("https://evil.com/?x=clinic.staging.example", False),
        ("https://clinic.staging.example.evil.com", False),
        ("ftp://127.0.0.1", False),
        ("not a url", False),
    ],
)
def test_target_allowed(policy: Policy, url: str, allowed: bool) -> None:
    assert policy.target_allowed(url) is allowed
