"""A profile that names no OpenAPI document: the suite is not applicable, and never a pass."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.events import CaseFinished, SuiteFinished
from harness.models import Verdict
from harness.profile.model import TargetProfile
from scenarios.fuzz import run_fuzz


def test_without_a_document_the_suite_errors_with_a_skipped_case(tmp_path: Path) -> None:
    profile = TargetProfile.model_validate(
        {
            "name": "toy",
            "roles": {
                "user": {"count": 2, "fields": {"username": {"kind": "username", "public": True}}}
            },
            "auth": {"login": [{"post": "/login", "json": {"u": "{{user.username}}"}}]},
        }
    )
    ctx: Any = SimpleNamespace(adapter=SimpleNamespace(profile=profile), out_dir=tmp_path)
    events = list(run_fuzz(ctx))
    cases = [e for e in events if isinstance(e, CaseFinished)]
    assert len(cases) == 1 and "not applicable" in cases[0].skipped
    finished = events[-1]
    assert isinstance(finished, SuiteFinished)
    assert finished.verdict is Verdict.ERROR
    assert "names no OpenAPI document" in finished.message
