from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from flags.backends.bootstrap import render
from flags.backends.local import LocalBackend
from harness.errors import UsageError


def test_enable_rollout_disable_roundtrip(tmp_path: Path) -> None:
    flags = LocalBackend(tmp_path / "state.json")
    assert not flags.status("video-switch", "development").exists
    assert flags.enable("video-switch", "development", 25).enabled
    assert flags.status("video-switch", "development").rollout == 25
    assert flags.set_rollout("video-switch", "development", 50).rollout == 50
    off = flags.disable("video-switch", "development")
    assert (off.enabled, off.rollout) == (False, 50)
    assert not flags.status("video-switch", "production").enabled
    assert [e.action for e in flags.history("video-switch")] == ["enable", "set-rollout", "disable"]


def test_bootstrap_file_is_unleash_client_features_format(tmp_path: Path) -> None:
    out = tmp_path / "clinic" / "flags.json"
    LocalBackend(tmp_path / "state.json", out).enable("video-switch", "development", 25)
    document = json.loads(out.read_text())
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
    LocalBackend(tmp_path / "state.json", out).disable("video-switch", "development")
    assert json.loads(out.read_text())["features"][0]["enabled"] is False


def test_bootstrap_defaults_to_state_sibling(tmp_path: Path) -> None:
    LocalBackend(tmp_path / "state.json").enable("video-switch", "development")
    assert json.loads((tmp_path / "flags.json").read_text())["features"][0]["enabled"] is True


def test_unleash_client_reads_the_bootstrap(tmp_path: Path) -> None:
    """The clinic's client must see exactly what we wrote: evaluate it with UnleashClient."""
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    out = tmp_path / "flags.json"
    LocalBackend(tmp_path / "state.json", out).enable("video-switch", "development", 100)
    cache = FileCache("chaperone-test", directory=str(tmp_path / "cache"))
    cache.bootstrap_from_dict(json.loads(out.read_text()))
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


def test_state_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.json"
    flags = LocalBackend(state)
    flags.enable("video-switch", "development")
    before = state.read_text()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        flags.disable("video-switch", "development")
    assert state.read_text() == before  # the old state is intact, never half-written
    assert json.loads(state.read_text())["flags"]["video-switch"]["environments"]["development"][
        "enabled"
    ]


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    state = tmp_path / "state.json"

    def toggle(env: str) -> None:
        for _ in range(10):
            LocalBackend(state).enable("video-switch", env, 100)

    threads = [threading.Thread(target=toggle, args=(f"env{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(LocalBackend(state).history("video-switch")) == 40


def test_corrupt_state_is_a_usage_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{oops")
    with pytest.raises(UsageError, match="not valid JSON"):
        LocalBackend(state).status("video-switch", "development")


def test_render_sorts_and_includes_every_flag() -> None:
    from flags.backends.base import FlagState

    document = render([FlagState("b", "dev", False, 10), FlagState("a", "dev", True, 100)])
    assert [f["name"] for f in document["features"]] == ["a", "b"]
