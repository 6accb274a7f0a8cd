"""The audit log is write-ahead, hash-chained, anchored in the backend, and keeps secrets out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flags import actions, audit
from flags.backends.local import LocalBackend
from flags.redact import MASK, redact


def _log(path: Path, backend: LocalBackend | None = None) -> audit.AuditLog:
    return audit.AuditLog(path, anchor=backend.set_audit_head if backend else None)


def _record(log: audit.AuditLog, **overrides: object) -> audit.AuditEntry:
    fields = {
        "actor": "tester",
        "action": "enable",
        "flag": "video-switch",
        "env": "development",
        "backend": "local",
        "result": "done",
    }
    fields.update(overrides)
    return log.append(**fields)


def test_entries_are_chained(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = _log(path)
    first, second, third = (_record(log, reason=str(i)) for i in range(3))
    lines = path.read_bytes().splitlines()
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev == audit.GENESIS
    assert second.prev == audit.line_hash(lines[0]) and third.prev == audit.line_hash(lines[1])
    assert len({first.log, second.log, third.log}) == 1
    assert audit.verify(path, {}).intact


def test_append_uses_o_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path: str, flags: int, *args: int) -> int:
        flags_seen.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    _record(_log(tmp_path / "audit.jsonl"))
    assert flags_seen and all(f & os.O_APPEND for f in flags_seen)
    assert not any(f & os.O_TRUNC for f in flags_seen)


def _tamper(path: Path, edit) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


def _chained(tmp_path: Path, count: int = 5) -> tuple[Path, LocalBackend]:
    backend = LocalBackend(tmp_path / "flags-state.json")
    path = tmp_path / "audit.jsonl"
    log = _log(path, backend)
    for i in range(count):
        _record(log, reason=f"entry {i}")
    return path, backend


def _problems(path: Path, backend: LocalBackend) -> list[str]:
    return audit.verify(path, backend.audit_heads("video-switch")).problems


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    path, backend = _chained(tmp_path)
    assert _problems(path, backend) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: [*ls[:2], ls[2].replace("entry 2", "entry X"), *ls[3:]], "line 3 was altered"),
        (lambda ls: [*ls[:2], *ls[3:]], "line(s) 3 are missing"),
        (lambda ls: ls[:3], "truncated: the backend's head is line 5, the log ends at line 3"),
        (lambda ls: [*ls[:4], ls[4].replace("entry 4", "entry Y")], "line 5 differs from the head"),
        (lambda ls: [*ls[:1], ls[2], ls[1], *ls[3:]], "repeats number 2"),
        (lambda ls: [], "deleted or replaced"),
    ],
    ids=["edited", "deleted line", "truncated", "last line edited", "reordered", "emptied"],
)
def test_tampering_is_detected(tmp_path: Path, edit, expected: str) -> None:
    path, backend = _chained(tmp_path)
    _tamper(path, edit)
    problems = _problems(path, backend)
    assert any(expected in p for p in problems), problems


def test_a_deleted_log_is_detected_through_the_backend_head(tmp_path: Path) -> None:
    path, backend = _chained(tmp_path)
    path.unlink()
    assert any("deleted or replaced" in p for p in _problems(path, backend))
    # Started afresh at the same place (anchored elsewhere, to hide it): still found out.
    _record(_log(path, LocalBackend(tmp_path / "other-state.json")))
    assert any("truncated" in p for p in _problems(path, backend))


def test_a_log_with_a_forged_id_is_a_replaced_log(tmp_path: Path) -> None:
    path, backend = _chained(tmp_path)
    own = audit.read(path)[0].log
    path.write_text(path.read_text().replace(own, "f00dcafe"))
    assert any("replaced by another log" in p for p in _problems(path, backend))


def test_another_hosts_log_for_the_same_flag_is_a_note_not_a_problem(tmp_path: Path) -> None:
    path, backend = _chained(tmp_path)
    elsewhere, _ = _chained(tmp_path / "ci-runner")  # its own log, anchored on its own state
    backend.set_audit_head("video-switch", audit.AuditHead("0badf00d", 3, "ab" * 32))
    report = audit.verify(path, backend.audit_heads("video-switch"))
    assert report.intact and any("another host or path" in n for n in report.notes)
    assert elsewhere != path


def test_an_intent_without_outcome_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _record(_log(path), phase="intent", result="pending")
    report = audit.verify(path, {})
    assert report.intact and "no outcome" in report.notes[0]


class SpyBackend(LocalBackend):
    """Remembers what the audit log held at the moment the flag changed."""

    seen_at_change: list[str]

    def enable(self, flag, env, rollout=100, build_digest=None):  # type: ignore[override]
        self.seen_at_change = (self.state_path.with_name("audit.jsonl")).read_text().splitlines()
        return super().enable(flag, env, rollout, build_digest)


def test_the_intent_is_on_disk_before_the_flag_changes(tmp_path: Path) -> None:
    backend = SpyBackend(tmp_path / "flags-state.json")
    desk = actions.Desk(backend, _log(tmp_path / "audit.jsonl", backend), audit.identity())
    with actions.write_ahead(desk, "enable", "video-switch", "development", rollout=5):
        backend.enable("video-switch", "development", 5)
    [intent] = [json.loads(line) for line in backend.seen_at_change]
    assert (intent["phase"], intent["result"]) == ("intent", "pending")
    outcome = audit.read(tmp_path / "audit.jsonl")[-1]
    assert (outcome.phase, outcome.result, outcome.intent) == ("outcome", "done", intent["seq"])


def test_an_unwritable_log_stops_the_change(tmp_path: Path) -> None:
    """H5: no intent on disk, no change."""
    backend = LocalBackend(tmp_path / "flags-state.json")
    (tmp_path / "audit-dir").mkdir()
    desk = actions.Desk(backend, _log(tmp_path / "audit-dir"), audit.identity())
    with (
        pytest.raises(audit.AuditError, match="cannot open audit log"),
        actions.write_ahead(desk, "enable", "video-switch", "development"),
    ):
        backend.enable("video-switch", "development")
    assert not backend.status("video-switch", "development").enabled


def test_the_kill_switch_works_with_an_unwritable_log(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "flags-state.json")
    backend.enable("video-switch", "development")
    (tmp_path / "audit-dir").mkdir()
    desk = actions.Desk(backend, _log(tmp_path / "audit-dir"), audit.identity())
    with pytest.raises(actions.Unaudited, match="done, but the audit log could not be written"):
        actions.disable(desk, "video-switch", "development")
    assert not backend.status("video-switch", "development").enabled


def test_secrets_never_reach_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", "*:*.supersecretadmintoken")
    path = tmp_path / "audit.jsonl"
    _record(_log(path), reason="got *:*.supersecretadmintoken from http://u:pw1234@h/x")
    text = path.read_text()
    assert "supersecretadmintoken" not in text and "pw1234" not in text


def test_a_one_character_secret_does_not_corrupt_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L4: a one-character secret used to be masked everywhere in the serialized line, which
    broke its JSON. Redaction is per field now, and such a value is no secret."""
    for name in ("CHAPERONE_GATE_SIGNING_KEY", "UNLEASH_ADMIN_TOKEN", "CHAPERONE_SUPPORT_TOKEN"):
        monkeypatch.setenv(name, '"')
    path = tmp_path / "audit.jsonl"
    log = _log(path)
    for i in range(3):
        _record(log, reason=f'say "{i}"')
    assert [e.reason for e in audit.read(path)] == ['say "0"', 'say "1"', 'say "2"']
    assert audit.verify(path, {}).intact


def test_redact_masks_known_and_token_shaped_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", "admin-key-xyz")
    text = "key admin-key-xyz token default:development.abcdef0123456789 extra s3cr3t"
    cleaned = redact(text, ("s3cr3t",))
    assert "admin-key-xyz" not in cleaned
    assert "abcdef0123456789" not in cleaned and "default:development." in cleaned
    assert "s3cr3t" not in cleaned
    assert cleaned.count(MASK) == 3
    assert redact("nothing secret here") == "nothing secret here"
    assert redact("https://ann:pw@clinic.staging.example/x") == (
        f"https://{MASK}@clinic.staging.example/x"
    )


def test_actor_is_the_os_account_not_free_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """M9: $USER and --actor are the caller's to choose; the uid's account is not."""
    monkeypatch.setenv("USER", "mallory")
    who = audit.identity("alice", environ={})
    assert who.user == audit.os_user() != "mallory"
    assert (who.claimed, who.ci) == ("alice", None)
    ci = audit.identity(
        environ={
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_REPOSITORY": "org/app",
            "GITHUB_RUN_ID": "42",
        }
    )
    assert ci.ci == "github:octocat@org/app run 42" + audit.UNVERIFIED
