from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flags.policy import (
    DEFAULT_POLICY,
    SCHEMA_PATH,
    Policy,
    bind_policy,
    load_policy,
    policy_schema_text,
)
from harness.errors import ConfigError
from tests.flags.conftest import write_policy


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_POLICY.read_text())


def test_shipped_policy_loads() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.flag == "video-switch"
    assert policy.verdict_ttl == 24 * 3600
    assert [s.percent for s in policy.rollout_stages][-1] == 100
    assert set(policy.required_suites) <= {
        "switch",
        "access",
        "stateful",
        "load",
        "browser",
        "fuzz",
    }
    # the release gate fuzzes too (a clean clinic passes it since notifications are judged
    # only in the world that sent them), within a bounded budget
    assert "fuzz" in policy.required_suites
    assert policy.required_suites[-1] == "fuzz", "fuzz changes state: it runs last"
    assert policy.fuzz_examples <= 10 and policy.fuzz_seconds <= 300


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
        (lambda r: r.update(min_population={"patient": -1}), "min_population.patient"),
        (lambda r: r["slo"].update({"GET /x": {"p95": 1}}), "did you mean .p95_ms"),
        (lambda r: r.pop("slo"), "field 'slo' is required"),
        (lambda r: r.update(allowed_targets=["*"]), "matches every host"),
        (lambda r: r.update(allowed_targets=["api.prod.example.com"]), "looks like production"),
        # Upper bounds (L1, L2): found when the policy loads, not after the gate has run.
        (lambda r: r.update(verdict_ttl="99999999999d"), "verdict_ttl"),
        (lambda r: r.update(min_seeds=100_000_000), "min_seeds"),
        (lambda r: r.update(min_population={"patient": 10**9}), "min_population.patient"),
        (lambda r: r.update(environments=["../etc"]), "environments.0"),
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


def test_policy_digest_is_stable_and_sensitive(tmp_path: Path, policy_file: Path) -> None:
    digest = bind_policy(policy_file).digest
    same = write_policy(tmp_path / "same", verdict_ttl="1d")  # same meaning, other spelling
    assert bind_policy(same).digest == digest
    more = write_policy(tmp_path / "more", min_population={"patient": 9})
    assert bind_policy(more).digest != digest


def test_a_profile_edit_changes_the_policy_digest(policy_file: Path) -> None:
    """The pin binds the profile too: marking a private field public is a different policy."""
    before = bind_policy(policy_file).digest
    profile = policy_file.parent / "profile.yaml"
    profile.write_text(profile.read_text() + "public_fields: [recordings]\n")
    assert bind_policy(policy_file).digest != before


def test_a_missing_profile_is_one_config_error(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "p", profile="./nowhere.yaml")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml cannot be read") as info:
        bind_policy(path)
    assert "\n" not in info.value.one_line()


def test_profile_path_resolution(tmp_path: Path, policy: Policy) -> None:
    assert policy.model_copy(update={"profile": "clinic"}).profile_path(tmp_path / "p.yaml") == (
        Path(__import__("harness").__file__).parent / "profiles" / "clinic.yaml"
    )
    relative = policy.model_copy(update={"profile": "../profiles/x.yaml"})
    assert relative.profile_path(tmp_path / "pol" / "p.yaml") == tmp_path / "pol/../profiles/x.yaml"


def test_duplicate_keys_in_a_policy_are_refused(tmp_path: Path) -> None:
    """L8: a key given twice is an error, not "the last one wins"."""
    text = DEFAULT_POLICY.read_text() + "min_seeds: 1\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="appears twice"):
        load_policy(path)


def test_a_non_utf8_policy_is_one_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(DEFAULT_POLICY.read_bytes().replace(b"audio", b"\xe9audio"))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        # The shipped policy names no loopback host (a gate there signs a reference verdict).
        ("http://127.0.0.1:8000/api", False),
        ("http://localhost:9000", False),
        ("https://clinic.staging.example/path", True),
        ("https://CLINIC.STAGING.EXAMPLE", True),
        ("https://clinic.example.com", False),
        ("https://staging.example", False),
        ("https://evil.com/?x=clinic.staging.example", False),
        ("https://clinic.staging.example.evil.com", False),
        ("ftp://127.0.0.1", False),
        ("not a url", False),
        # L7: a production label is refused whatever the patterns say.
        ("https://clinic.prod.staging.example", False),
        ("https://live.staging.example", False),
    ],
)
def test_target_allowed(policy: Policy, url: str, allowed: bool) -> None:
    assert policy.target_allowed(url) is allowed
