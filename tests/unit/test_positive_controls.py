"""A target that does nothing must never pass (H6): positive controls in every suite.

Two stubs speak just enough of the clinic's contract to be seeded and logged in to: one
answers `200 text/html` to everything else, the other answers empty lists. Neither shows any
user their own data, so every suite must end `error: scenario had no effect`, never `pass`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import EngineError, RunFinished
from harness.models import Verdict
from tests.fuzz.worlds import clinic_document


def _stub(reply: str, openapi: dict[str, Any]) -> httpx.MockTransport:
    counter = iter(range(1, 10_000))

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/openapi.json":
            return httpx.Response(200, json=openapi)
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path.startswith("/_support/") and path.endswith("/bulk"):
            # Seeding accepted in bulk (the profile's heavy owners), then nothing else happens.
            items = json.loads(request.content or b"{}").get("items", [])
            ids = [next(counter) for _ in items]
            return httpx.Response(200, json={"ids": ids, "consultation_ids": ids})
        if path.startswith("/_support/"):
            n = next(counter)
            return httpx.Response(200, json={"id": n, "consultation_id": n, "ok": True})
        if path == "/api/login":
            # The clinic's login sets its session and its (readable) remember-me cookie.
            cookies = [("set-cookie", "session=s; Path=/"), ("set-cookie", "remember_user=1")]
            return httpx.Response(200, json={"token": "tok"}, headers=cookies)
        if reply == "html":
            return httpx.Response(
                200, text="<html><body>ok</body></html>", headers={"content-type": "text/html"}
            )
        return httpx.Response(200, json={"items": [], "total": 0})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("reply", ["html", "empty-lists"])
@pytest.mark.parametrize("suite", ["switch", "access", "stateful"])
def test_a_target_that_does_nothing_is_an_error_never_a_pass(
    tmp_path: Path, reply: str, suite: str
) -> None:
    options = RunOptions(
        suites=(suite,), population={"patient": 2, "clinician": 1}, stateful_examples=2
    )
    request = RunRequest(
        "http://stub.test",
        options,
        tmp_path,
        "token",
        transport=_stub(reply, clinic_document(tmp_path)),
    )
    events = list(run(request))
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.verdict is Verdict.ERROR
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert any("scenario had no effect" in m for m in errors), errors
    assert json.loads((tmp_path / "world.json").read_text())["actors"]
