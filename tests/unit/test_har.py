"""Routes from a recorded browser session (HAR): same-origin GETs, ids as `{id}`, bounded
reads and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.client.har import har_routes, read_har, reads_yaml
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "vampi-session.har"


def _entry(method: str, url: str) -> dict[str, Any]:
    return {"request": {"method": method, "url": url}}


def test_same_origin_gets_with_ids_templated_most_requested_first() -> None:
    entries = [
        _entry("GET", "http://app:8000/api/patients/17/activity?since=1"),
        _entry("GET", "http://app:8000/api/patients/18/activity"),
        _entry("GET", "http://app:8000/files/0b6e3f0e-3c1e-4a59-9d8e-1f2a3b4c5d6e"),
        _entry("POST", "http://app:8000/api/patients/17/notes"),
        _entry("GET", "http://app:8000/static/app.js"),
        _entry("GET", "https://cdn.example/lib.css"),
        _entry("GET", "http://app:8001/other-port"),
        {"request": "broken"},
    ]
    assert har_routes(entries) == ["GET /api/patients/{id}/activity", "GET /files/{id}"]
    assert har_routes(entries, "https://cdn.example") == []


def test_the_fixture_yields_debug_and_paste_ready_yaml() -> None:
    routes = har_routes(read_har(FIXTURE))
    assert "GET /users/v1/_debug" in routes
    assert "GET /favicon.ico" not in routes and all(" /users/v1/login" not in r for r in routes)
    text = reads_yaml([*routes, "GET /x/{id}"], already={"GET /me"})
    assert '  - {get: "/users/v1/_debug"}' in text and "/me" not in text
    assert "# GET /x/{id}: an `each:` read" in text
    assert reads_yaml(["GET /me"], {"GET /me"}).startswith("reads: []")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "is not JSON"),
        (json.dumps({"log": {}}).encode(), "no log.entries"),
        (json.dumps([1, 2]).encode(), "no log.entries"),
        (b"x" * 2048, "larger than"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "s.har"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        read_har(path, limit=1024)


def _chaperone(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "chaperone", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_import_har_command_prints_reads_and_leaves_out_the_profiles(tmp_path: Path) -> None:
    out = tmp_path / "reads.yaml"
    profile = "examples/targets/vampi.yaml"
    done = _chaperone(
        "profile", "import-har", str(FIXTURE), "--profile", profile, "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert '{get: "/users/v1/_debug"}' in text and '"/me"' not in text
    missing = _chaperone("profile", "import-har", str(tmp_path / "nope.har"))
    assert missing.returncode == 2
    assert "cannot read the HAR file" in missing.stderr and "Traceback" not in missing.stderr


def test_browser_traffic_routes_keep_the_targets_gets() -> None:
    from harness.client.har import traffic_routes

    urls = [
        "http://127.0.0.1:8000/profile",
        "http://127.0.0.1:8000/profile",
        "http://127.0.0.1:8000/profile/7/summary",
        "http://127.0.0.1:8000/static/app.css",
        "http://127.0.0.1:9000/elsewhere",
        "https://fonts.example/x",
    ]
    assert traffic_routes(urls, "http://127.0.0.1:8000") == [
        "GET /profile",
        "GET /profile/{id}/summary",
    ]


def test_a_browser_user_keeps_the_gets_its_pages_made() -> None:
    from types import SimpleNamespace
    from typing import cast as typed

    from playwright.async_api import Request

    from scenarios.browser.user import MAX_TRAFFIC, BrowserUser

    user = BrowserUser(typed(Any, None), typed(Any, None), typed(Any, None), "http://t")
    user.saw(typed(Request, SimpleNamespace(method="GET", url="http://t/a")))
    user.saw(typed(Request, SimpleNamespace(method="POST", url="http://t/b")))
    assert user.traffic == ["http://t/a"]
    for _ in range(MAX_TRAFFIC + 5):
        user.saw(typed(Request, SimpleNamespace(method="GET", url="http://t/c")))
    assert len(user.traffic) == MAX_TRAFFIC
