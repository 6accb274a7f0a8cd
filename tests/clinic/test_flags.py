"""The flag sources: a bootstrap file re-read on change, a real Unleash API, and fail-closed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from clinic.flags import (
    VIDEO_SWITCH,
    FileFlagSource,
    UnleashFlagSource,
    features_document,
    write_flags_file,
)
from tests.services.postgres import free_port


def test_missing_file_is_written_with_the_flag_on(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    source = FileFlagSource(path)
    assert source.is_enabled(VIDEO_SWITCH, "alice")
    assert json.loads(path.read_text()) == features_document(True)


def test_file_changes_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags_file(path, enabled=False)
    source = FileFlagSource(path)
    assert not source.is_enabled(VIDEO_SWITCH, "alice")
    time.sleep(0.01)
    write_flags_file(path, enabled=True)
    assert source.is_enabled(VIDEO_SWITCH, "alice")


def test_broken_or_deleted_file_means_off(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    source = FileFlagSource(path)
    path.write_text("{not json")
    assert not source.is_enabled(VIDEO_SWITCH, "alice")
    path.unlink()
    assert not source.is_enabled(VIDEO_SWITCH, "alice")


def test_user_targeting_strategy_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    document = features_document(True)
    document["features"][0]["strategies"] = [
        {"name": "userWithId", "parameters": {"userIds": "alice"}}
    ]
    path.write_text(json.dumps(document))
    source = FileFlagSource(path)
    assert source.is_enabled(VIDEO_SWITCH, "alice")
    assert not source.is_enabled(VIDEO_SWITCH, "bob")


class _FakeUnleash(BaseHTTPRequestHandler):
    enabled = True
    seen_tokens: list[str] = []

    def do_GET(self) -> None:
        self.seen_tokens.append(self.headers.get("Authorization", ""))
        body = json.dumps(features_document(self.enabled)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_unleash() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeUnleash)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def _eventually(check: object, seconds: float = 8.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_unleash_server_is_polled(fake_unleash: str) -> None:
    _FakeUnleash.enabled = True
    source = UnleashFlagSource(fake_unleash, "client-token")
    try:
        assert _eventually(lambda: source.is_enabled(VIDEO_SWITCH, "alice"))
        assert "client-token" in _FakeUnleash.seen_tokens
        _FakeUnleash.enabled = False
        assert _eventually(lambda: not source.is_enabled(VIDEO_SWITCH, "alice"))
    finally:
        source.close()


def test_unreachable_unleash_means_off() -> None:
    source = UnleashFlagSource(f"http://127.0.0.1:{free_port()}/api", "token")
    try:
        time.sleep(0.5)
        assert not source.is_enabled(VIDEO_SWITCH, "alice")
    finally:
        source.close()
