from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from flags.backends.base import AuditHead
from flags.backends.bootstrap import render
from flags.backends.local import LocalBackend
from harness.errors import InfrastructureError, UsageError


def test_enable_rollout_disable_roundtrip(tmp_path: Path) -> None:
    flags = LocalBackend(tmp_path / "state.json")
    assert not flags.status("video-switch", "development").exists
    assert flags.enable("video-switch", "development", 25).enabled
    assert flags.status("video-switch", "development").rollout == 25
    assert flags.set_rollout("video-switch", "development", 50).rollout == 50
    off = flags.disable("video-switch", "development")
    assert (off.enabled, off.rollout) == (False, 50)
    assert [e.action for e in flags.history("video-switch")] == ["enable", "set-rollout", "disable"]


def test_each_environment_has_its_own_clinic_file(tmp_path: Path) -> None:
    """M3: the clinic's flags file names one environment; a change in one never reaches
    another, and an environment the backend does not know is an error, not a silent no-op."""
    flags = LocalBackend(tmp_path / "state.json")
    flags.declare_environments(["development", "production"])
    flags.enable("video-switch", "development", 25)
    assert not flags.status("video-switch", "production").enabled
    dev = json.loads(flags.clinic_file("development").read_text())
    prod = json.loads(flags.clinic_file("production").read_text())
    assert [f["enabled"] for f in dev["features"]] == [True]
    assert prod["features"] == [] and prod["chaperone"]["env"] == "production"
    with pytest.raises(UsageError, match="did you mean 'development'"):
        flags.disable("video-switch", "developmnet")
    with pytest.raises(UsageError, match="not an environment name"):
        flags.clinic_file("../etc")


def test_clinic_file_is_unleash_client_features_format(tmp_path: Path) -> None:
    flags = LocalBackend(tmp_path / "state.json", tmp_path / "clinic")
    flags.enable("video-switch", "development", 25, build_digest="ab" * 32)
    document = json.loads((tmp_path / "clinic" / "flags-development.json").read_text())
    assert document["version"] == 1
    (feature,) = document["features"]
    assert feature["name"] == "video-switch" and feature["enabled"] is True
    assert feature["strategies"] == [
        {
            "name": "flexibleRollout",
            "constraints": [],
            "parameters": {"rollout": "25", "stickiness": "default", "groupId": "video-switch"},
        }
    ]
    assert flags.live_build("video-switch", "development") == "ab" * 32
    flags.disable("video-switch", "development")
    assert json.loads(flags.clinic_file("development").read_text())["features"][0]["enabled"] is (
        False
    )


def test_unleash_client_reads_the_clinic_file(tmp_path: Path) -> None:
    """The clinic's client must see exactly what we wrote: evaluate it with UnleashClient."""
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    flags = LocalBackend(tmp_path / "state.json")
    flags.enable("video-switch", "development", 100, build_digest="cd" * 32)
    cache = FileCache("chaperone-test", directory=str(tmp_path / "cache"))
    cache.bootstrap_from_dict(json.loads(flags.clinic_file("development").read_text()))
    client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="t",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
    )
    client.initialize_client(fetch_toggles=False)
    try:
        assert client.is_enabled("video-switch", {"userId": "patient-1"})
    finally:
        client.destroy()


def test_trust_records(tmp_path: Path) -> None:
    flags = LocalBackend(tmp_path / "state.json")
    assert flags.pin("video-switch") is None and flags.revoked("video-switch") == frozenset()
    flags.set_pin("video-switch", "a" * 64, ["development", "production"])
    assert flags.pin("video-switch") == "a" * 64
    assert flags.environments() == ["development", "production"]
    flags.revoke("video-switch", "b" * 64)
    assert flags.revoked("video-switch") == {"b" * 64}
    flags.set_audit_head("video-switch", AuditHead("log1", 3, "c" * 64))
    flags.set_audit_head("video-switch", AuditHead("log1", 5, "d" * 64))
    assert flags.audit_heads("video-switch") == {"log1": AuditHead("log1", 5, "d" * 64)}


def test_state_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = LocalBackend(tmp_path / "state.json")
    flags.enable("video-switch", "development")
    clinic_file = flags.clinic_file("development")
    before = clinic_file.read_text()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    # One line for the user (no traceback), naming the file and the reason.
    with pytest.raises(InfrastructureError, match=r"cannot write flag file .*disk full"):
        flags.disable("video-switch", "development")
    assert clinic_file.read_text() == before  # the old state is intact, never half-written
    monkeypatch.undo()
    assert flags.status("video-switch", "development").enabled


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    LocalBackend(state).declare_environments([f"env{i}" for i in range(4)])

    def toggle(env: str) -> None:
        for _ in range(10):
            LocalBackend(state).enable("video-switch", env, 100)

    threads = [threading.Thread(target=toggle, args=(f"env{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(LocalBackend(state).history("video-switch")) == 40


def test_corrupt_files_are_usage_errors(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{oops")
    with pytest.raises(UsageError, match="not valid JSON"):
        LocalBackend(state).status("video-switch", "development")
    state.unlink()
    LocalBackend(state).clinic_file("development").write_text("[]")
    with pytest.raises(UsageError, match="has no 'features'"):
        LocalBackend(state).status("video-switch", "development")


def test_render_sorts_and_includes_every_flag() -> None:
    from flags.backends.base import FlagState

    document = render([FlagState("b", "dev", False, 10), FlagState("a", "dev", True, 100)])
    assert [f["name"] for f in document["features"]] == ["a", "b"]
