"""The `chaperone flags` commands fail closed: anything not proven safe is refused (exit 1),
recorded in the audit log, and leaves the flag off. Disabling always works."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flags import audit
from flags.audit import os_user
from flags.keys import new_signing_key
from flags.policy import bind_policy
from tests.flags.conftest import BUILD, PUBLIC_PEM, CliResult, write_policy


def _common(state: Path, env: str = "development") -> list[str]:
    return ["--env", env, "--backend", "local", "--state", str(state)]


def _enable(
    cli: Callable[..., CliResult],
    state: Path,
    verdict: Path,
    *extra: str,
    build: str = BUILD,
    env: str = "development",
) -> CliResult:
    return cli(
        "enable",
        "video-switch",
        *_common(state, env),
        "--verdict",
        str(verdict),
        "--build",
        build,
        *extra,
    )


def _status(cli: Callable[..., CliResult], state: Path, env: str = "development") -> dict:
    result = cli("status", "video-switch", *_common(state, env), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _audit(state: Path) -> list[audit.AuditEntry]:
    return [e for e in audit.read(state.with_name("audit.jsonl")) if e.phase != "intent"]


def test_enable_defaults_to_the_pinned_policys_first_stage(
    cli, state: Path, verdict_file, bound
) -> None:
    result = _enable(cli, state, verdict_file())
    assert result.code == 0, result.err
    first = bound.policy.rollout_stages[0].percent
    assert first < 100
    assert _status(cli, state) == {
        "backend": "local",
        "enabled": True,
        "env": "development",
        "exists": True,
        "flag": "video-switch",
        "pin": bound.digest,
        "rollout": first,
    }
    intent, outcome = audit.read(state.with_name("audit.jsonl"))
    assert (intent.phase, intent.result, outcome.phase, outcome.result) == (
        "intent",
        "pending",
        "outcome",
        "done",
    )
    assert outcome.intent == intent.seq and outcome.prev != intent.prev
    assert (outcome.action, outcome.build, outcome.actor) == ("enable", BUILD, os_user())
    assert outcome.policy_sha256 == bound.digest
    assert outcome.verdict_sha256 and len(outcome.verdict_sha256) == 64


def test_explicit_rollout(cli, state: Path, verdict_file) -> None:
    assert _enable(cli, state, verdict_file(), "--rollout", "25").code == 0
    assert _status(cli, state)["rollout"] == 25


def _forge(path: Path) -> Path:
    document = json.loads(path.read_text())
    document["payload"] = document["payload"][:-8] + "AAAAAAA="
    path.write_text(json.dumps(document))
    return path


REFUSALS: list[tuple[str, Callable, str, str, str]] = [
    ("forged", lambda vf: _forge(vf()), BUILD, "development", "bad signature"),
    ("another key", lambda vf: vf(key=new_signing_key()), BUILD, "development", "bad signature"),
    (
        "expired",
        lambda vf: vf(
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
            created_at=datetime.now(UTC) - timedelta(hours=2),
        ),
        BUILD,
        "development",
        "expired",
    ),
    ("mismatched build", lambda vf: vf(), "build-other", "development", "not 'build-other'"),
    ("failing", lambda vf: vf(verdict="fail", findings=4), BUILD, "development", "'fail' with 4"),
    ("missing suite", lambda vf: vf(suites={"switch": "pass"}), BUILD, "development", "missing"),
    ("unreadable", lambda vf: vf().with_name("nope.json"), BUILD, "development", "unreadable"),
    ("reference", lambda vf: vf(reference=True), BUILD, "production", "reference verdict"),
]


@pytest.mark.parametrize(
    ("case", "make", "build", "env", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_unsafe_enable_is_refused_and_audited(
    cli, state: Path, verdict_file, case: str, make, build: str, env: str, reason: str
) -> None:
    result = _enable(cli, state, make(verdict_file), build=build, env=env)
    assert result.code == 1, result.err
    assert reason in result.err
    assert len(result.err.strip().splitlines()) == 1  # one line, no traceback
    assert _status(cli, state, env)["enabled"] is False
    (entry,) = _audit(state)
    assert entry.result == "refused" and reason in entry.reason and entry.action == "enable"
    assert entry.phase == "record"  # nothing changed, so no intent was written


def test_refused_enable_does_not_turn_off_nor_change_running_flag(
    cli, state: Path, verdict_file
) -> None:
    assert _enable(cli, state, verdict_file(), "--rollout", "25").code == 0
    assert _enable(cli, state, verdict_file(verdict="fail"), "--rollout", "100").code == 1
    assert _status(cli, state)["rollout"] == 25


def test_a_flag_with_no_pin_is_refused(cli, tmp_path: Path, verdict_file) -> None:
    bare = tmp_path / "bare" / "flags-state.json"
    result = _enable(cli, bare, verdict_file())
    assert result.code == 1 and "no pinned policy" in result.err
    assert "chaperone flags pin video-switch" in result.err


def test_the_enabler_cannot_choose_the_policy(cli, state: Path, verdict_file, tmp_path) -> None:
    """H2: there is no --policy on enable; a verdict gated (and genuinely signed) under a
    self-written one-suite policy does not match the pin."""
    assert _enable(cli, state, verdict_file(), "--policy", "mine.yaml").code == 2
    mine = bind_policy(write_policy(tmp_path / "mine", required_suites=["switch"]))
    verdict = verdict_file(policy_hash=mine.digest, policy=mine.document, suites={"switch": "pass"})
    result = _enable(cli, state, verdict)
    assert result.code == 1 and "does not match the policy pinned" in result.err
    assert _status(cli, state)["enabled"] is False


def test_wrong_flag_or_env_is_refused(cli, state: Path, verdict_file) -> None:
    result = cli(
        "enable", "other-flag", *_common(state), "--verdict", str(verdict_file()), "--build", BUILD
    )
    assert result.code == 1 and "no pinned policy" in result.err
    result = _enable(cli, state, verdict_file(), env="staging-eu")
    assert result.code == 1 and "not in the pinned policy's environments" in result.err


def test_missing_public_key_is_exit_2_and_audited(
    cli, state: Path, verdict_file, monkeypatch
) -> None:
    path = verdict_file()
    monkeypatch.delenv("CHAPERONE_GATE_PUBLIC_KEY")
    result = _enable(cli, state, path)
    assert result.code == 2 and "CHAPERONE_GATE_PUBLIC_KEY is not set" in result.err
    assert _status(cli, state)["enabled"] is False
    assert _audit(state)[-1].result == "error"


def test_verify_key_file(cli, state: Path, verdict_file, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CHAPERONE_GATE_PUBLIC_KEY")
    (tmp_path / "gate.pub").write_text(PUBLIC_PEM)
    assert _enable(cli, state, verdict_file(), "--verify-key", str(tmp_path / "gate.pub")).code == 0


def test_disable_always_works_without_verdict_or_key(
    cli, state: Path, verdict_file, monkeypatch
) -> None:
    assert _enable(cli, state, verdict_file()).code == 0
    monkeypatch.delenv("CHAPERONE_GATE_PUBLIC_KEY")  # the kill switch needs no key
    result = cli("disable", "video-switch", *_common(state), "--actor", "oncall")
    assert result.code == 0, result.err
    assert _status(cli, state)["enabled"] is False
    assert [(e.action, e.result, e.actor, e.claimed_actor) for e in _audit(state)] == [
        ("enable", "done", os_user(), None),
        ("disable", "done", os_user(), "oncall"),
    ]


def test_disable_of_unknown_flag_succeeds(cli, state: Path) -> None:
    assert cli("disable", "video-switch", *_common(state)).code == 0


def test_pin_is_audited_and_a_change_needs_replace(cli, tmp_path: Path, bound) -> None:
    state = tmp_path / "s" / "flags-state.json"
    args = ["--backend", "local", "--state", str(state)]
    assert cli("pin", "video-switch", "--policy", bound.uri, *args).code == 0
    other = write_policy(tmp_path / "other", min_seeds=5)  # differs from the shipped policy
    refused = cli("pin", "video-switch", "--policy", str(other), *args)
    assert refused.code == 1 and "--replace" in refused.err
    done = cli("pin", "video-switch", "--policy", str(other), "--replace", *args)
    assert done.code == 0, done.err
    pins = [e for e in _audit(state) if e.action == "pin"]
    assert [e.result for e in pins] == ["done", "refused", "done"]
    assert bound.digest[:12] in pins[-1].reason and pins[-1].policy_sha256 != bound.digest
    wrong = cli("pin", "other-flag", "--policy", str(other), *args)
    assert wrong.code == 2 and "is for flag 'video-switch'" in wrong.err


def test_revoked_build_is_refused(cli, state: Path, verdict_file) -> None:
    assert cli("revoke", "video-switch", "--build", BUILD, "--state", str(state)).code == 0
    result = _enable(cli, state, verdict_file())
    assert result.code == 1 and "revoked" in result.err
    (revoke, refusal) = _audit(state)
    assert (revoke.action, revoke.build, refusal.result) == ("revoke", BUILD, "refused")


def test_history_table_and_json(cli, state: Path, verdict_file) -> None:
    _enable(cli, state, verdict_file(), build="wrong-build")
    _enable(cli, state, verdict_file())
    cli("disable", "video-switch", *_common(state))
    table = cli("history", "video-switch", "--state", str(state))
    assert table.code == 0 and "refused" in table.out and "disable" in table.out
    data = json.loads(cli("history", "video-switch", "--state", str(state), "--json").out)
    assert [e["result"] for e in data["audit"] if e["phase"] != "intent"] == [
        "refused",
        "done",
        "done",
    ]
    assert [e["action"] for e in data["backend"]] == ["pin", "enable", "disable"]


TIMESTAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\b")


@pytest.mark.parametrize("columns", [None, "80", "60"])
def test_history_tables_keep_whole_timestamps_off_a_terminal(
    cli, state: Path, verdict_file, monkeypatch, columns: str | None
) -> None:
    """Off a TTY Rich assumed 80 columns and cut the "when" column to `2026-12-…`. Now the
    console is wide unless COLUMNS says otherwise, and even then a timestamp never wraps or is
    cut: the other columns give way."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    _enable(cli, state, verdict_file(), "--actor", "a-release-manager-with-a-long-name")
    cli("disable", "video-switch", *_common(state), "--reason", "a long reason " * 6)
    table = cli("history", "video-switch", "--state", str(state))
    assert table.code == 0, table.err
    assert "…" not in table.out
    # enable and disable in the audit log (the fixture pinned unaudited); pin, enable and
    # disable in the backend's events: every one with its whole timestamp
    assert len(TIMESTAMP.findall(table.out)) == 5, table.out
    if columns is not None:
        assert max(map(len, table.out.splitlines())) <= int(columns)


def test_audit_path_option(cli, state: Path, verdict_file, tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "audit.jsonl"
    _enable(cli, state, verdict_file(), "--audit", str(log))
    assert audit.read(log)[-1].result == "done"


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
            "http://admin:hunter2secret@127.0.0.1:9",
        ),
    ]
    assert outputs[-1].code == 2 and "unreachable" in outputs[-1].err
    files = "".join(p.read_text() for p in state.parent.iterdir() if p.is_file())
    for text in [files, *(o.out + o.err for o in outputs)]:
        assert "topsecretadmintoken" not in text
        assert "hunter2secret" not in text
