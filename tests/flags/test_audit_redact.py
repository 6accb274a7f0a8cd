from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flags import audit
from flags.redact import MASK, redact


def _entry(**overrides: object) -> audit.AuditEntry:
    fields = {
        "at": datetime.now(UTC),
        "actor": "tester",
        "action": "enable",
        "flag": "video-switch",
        "env": "development",
        "backend": "local",
        "result": "done",
    }
    fields.update(overrides)
    return audit.AuditEntry(**fields)


def test_append_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit.append(path, _entry())
    first = path.read_text()
    audit.append(path, _entry(result="refused", reason="expired"))
    assert path.read_text().startswith(first)
    assert [e.result for e in audit.read(path)] == ["done", "refused"]
    assert audit.read(path, "other-flag") == []


def test_append_uses_o_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path: str, flags: int, *args: int) -> int:
        flags_seen.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    audit.append(tmp_path / "audit.jsonl", _entry())
    assert flags_seen and all(f & os.O_APPEND for f in flags_seen)
    assert not any(f & os.O_TRUNC for f in flags_seen)


def test_secrets_never_reach_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", "*:*.supersecretadmintoken")
    path = tmp_path / "audit.jsonl"
    audit.append(path, _entry(reason="got *:*.supersecretadmintoken back"))
    assert "supersecretadmintoken" not in path.read_text()


def test_redact_masks_known_and_token_shaped_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAPERONE_GATE_KEY", "gate-key-xyz")
    text = "key gate-key-xyz token default:development.abcdef0123456789 extra s3cr3t"
    cleaned = redact(text, ("s3cr3t",))
    assert "gate-key-xyz" not in cleaned
    assert "abcdef0123456789" not in cleaned and "default:development." in cleaned
    assert "s3cr3t" not in cleaned
    assert cleaned.count(MASK) == 3
    assert redact("nothing secret here") == "nothing secret here"


def test_actor_defaults_to_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    assert audit.current_actor() == "alice"
    assert audit.current_actor("bob") == "bob"
