"""The `chaperone flags` commands fail closed: anything not proven safe is refused (exit 1),
recorded in the audit log, and leaves the flag off. Disabling always works."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flags import audit
from tests.flags.conftest import BUILD, GATE_KEY, CliResult


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "flags-state.json"


def _common(state: Path) -> list[str]:
    return ["--env", "development", "--backend", "local", "--state", str(state)]


def _enable(
    cli: Callable[..., CliResult], state: Path, verdict: Path, *extra: str, build: str = BUILD
) -> CliResult:
    return cli(
        "enable",
        "video-switch",
        *_common(state),
        "--verdict",
        str(verdict),
        "--build",
        build,
        *extra,
    )


def _status(cli: Callable[..., CliResult], state: Path) -> dict:
    result = cli("status", "video-switch", *_common(state), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _audit(state: Path) -> list[audit.AuditEntry]:
    return audit.read(state.with_name("audit.jsonl"))


def test_enable_with_passing_verdict(cli, state: Path, verdict_file) -> None:
    result = _enable(cli, state, verdict_file(), "--rollout", "25")
    assert result.code == 0, result.err
    assert _status(cli, state) == {
        "backend": "local",
        "enabled": True,
        "env": "development",
        "exists": True,
        "flag": "video-switch",
        "rollout": 25,
    }
    (entry,) = _audit(state)
    assert (entry.action, entry.result, entry.build, entry.actor) == (
        "enable",
        "done",
        BUILD,
        "tester",
    )
    assert entry.verdict_sha256 and len(entry.verdict_sha256) == 64


def _forge(path: Path) -> Path:
    document = json.loads(path.read_text())
    document["build"] = "build-evil"
    path.write_text(json.dumps(document))
    return path


REFUSALS: list[tuple[str, Callable[[Callable[..., Path]], Path], str, str]] = [
    ("forged", lambda vf: _forge(vf()), "build-evil", "bad signature"),
    (
        "expired",
        lambda vf: vf(expires_at=datetime.now(UTC) - timedelta(minutes=1)),
        BUILD,
        "expired",
    ),
    ("mismatched build", lambda vf: vf(), "build-other", "not 'build-other'"),
    ("mismatched policy", lambda vf: vf(policy_hash="f" * 64), BUILD, "policy hash"),
    ("failing", lambda vf: vf(verdict="fail", findings=4), BUILD, "'fail' with 4 finding"),
    ("missing suite", lambda vf: vf(suites={"switch": "pass"}), BUILD, "is missing"),
    ("unreadable", lambda vf: vf().with_name("nope.json"), BUILD, "unreadable"),
]


@pytest.mark.parametrize(
    ("case", "make", "build", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_unsafe_enable_is_refused_and_audited(
    cli, state: Path, verdict_file, case: str, make, build: str, reason: str
) -> None:
    result = _enable(cli, state, make(verdict_file), build=build)
    assert result.code == 1
    assert reason in result.err
    assert len(result.err.strip().splitlines()) == 1  # one line, no traceback
    assert _status(cli, state)["enabled"] is False
    (entry,) = _audit(state)
    assert entry.result == "refused" and reason in entry.reason and entry.action == "enable"


def test_refused_enable_does_not_turn_off_nor_change_running_flag(
    cli, state: Path, verdict_file
) -> None:
    assert _enable(cli, state, verdict_file(), "--rollout", "25").code == 0
    assert _enable(cli, state, verdict_file(verdict="fail"), "--rollout", "100").code == 1
    assert _status(cli, state)["rollout"] == 25


def test_wrong_flag_or_env_for_policy_is_refused(cli, state: Path, verdict_file) -> None:
    result = cli(
        "enable", "other-flag", *_common(state), "--verdict", str(verdict_file()), "--build", BUILD
    )
    assert result.code == 1 and "is for flag 'video-switch'" in result.err
    result = cli(
        "enable",
        "video-switch",
        "--env",
        "staging-eu",
        "--state",
        str(state),
        "--verdict",
        str(verdict_file()),
        "--build",
        BUILD,
    )
    assert result.code == 1 and "not in the policy's environments" in result.err


def test_bad_policy_is_exit_2_and_audited(cli, state: Path, verdict_file, tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("flag: video-switch\nrequried_suites: [switch]\n")
    result = _enable(cli, state, verdict_file(), "--policy", str(bad))
    assert result.code == 2
    assert "did you mean 'required_suites'" in result.err
    assert _audit(state)[-1].result == "error"


def test_missing_gate_key_is_exit_2(cli, state: Path, verdict_file, monkeypatch) -> None:
    path = verdict_file()
    monkeypatch.delenv("CHAPERONE_GATE_KEY")
    result = _enable(cli, state, path)
    assert result.code == 2 and "CHAPERONE_GATE_KEY is not set" in result.err
    assert _status(cli, state)["enabled"] is False


def test_disable_always_works_without_verdict(cli, state: Path, verdict_file, monkeypatch) -> None:
    assert _enable(cli, state, verdict_file()).code == 0
    monkeypatch.delenv("CHAPERONE_GATE_KEY")  # the kill switch needs no key either
    result = cli("disable", "video-switch", *_common(state), "--actor", "oncall")
    assert result.code == 0, result.err
    assert _status(cli, state)["enabled"] is False
    assert [(e.action, e.result, e.actor) for e in _audit(state)] == [
        ("enable", "done", "tester"),
        ("disable", "done", "oncall"),
    ]


def test_disable_of_unknown_flag_succeeds(cli, state: Path) -> None:
    assert cli("disable", "video-switch", *_common(state)).code == 0


def test_history_table_and_json(cli, state: Path, verdict_file) -> None:
    _enable(cli, state, verdict_file(), build="wrong-build")
    _enable(cli, state, verdict_file())
    cli("disable", "video-switch", *_common(state))
    table = cli("history", "video-switch", "--state", str(state))
    assert table.code == 0 and "refused" in table.out and "disable" in table.out
    data = json.loads(cli("history", "video-switch", "--state", str(state), "--json").out)
    assert [e["result"] for e in data["audit"]] == ["refused", "done", "done"]
    assert [e["action"] for e in data["backend"]] == ["enable", "disable"]


def test_audit_path_option(cli, state: Path, verdict_file, tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "audit.jsonl"
    _enable(cli, state, verdict_file(), "--audit", str(log))
    assert audit.read(log)[0].result == "done"


def test_no_secret_in_any_output(cli, state: Path, verdict_file, monkeypatch) -> None:
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", "*:*.topsecretadmintoken")
    outputs = [
        _enable(cli, state, verdict_file(verdict="fail")),
        _enable(cli, state, verdict_file()),
        cli("status", "video-switch", *_common(state), "--json"),
        cli("history", "video-switch", "--state", str(state), "--json"),
        cli(
            "status",
            "video-switch",
            "--env",
            "development",
            "--backend",
            "unleash",
            "--unleash-url",
            "http://127.0.0.1:9",
        ),
    ]
    assert outputs[-1].code == 2 and "unreachable" in outputs[-1].err
    files = "".join(p.read_text() for p in state.parent.iterdir() if p.is_file())
    for text in [files, *(o.out + o.err for o in outputs)]:
        assert "topsecretadmintoken" not in text
        assert GATE_KEY not in text
