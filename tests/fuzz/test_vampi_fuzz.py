"""The fuzz suite on an app nobody here wrote: VAmPI (../shared/targets/VAmPI), both ways.

- `vulnerable=1`: Schemathesis's requests reach `GET /books/v1/{book_title}` with other users'
  titles and the Judge sees their secrets (the books BOLA), through `chaperone run`;
- `vulnerable=0`: no finding there. `GET /users/v1/_debug` lists every password in both modes,
  so that exposure is found in both. With `fuzz_contract_checks` on, Schemathesis's own check
  failures (VAmPI answers 500 to some malformed books) become contract findings, never
  exposures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import EngineError, FindingRaised, SuiteFinished
from harness.profile import load_profile
from tests.fuzz.worlds import VAMPI_PROFILE
from tests.services.vampi import running_vampi

pytestmark = pytest.mark.integration

BOOKS = "GET /books/v1/{book_title}"
DEBUG = "GET /users/v1/_debug"


def _leaks_on(findings: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    return [
        f for f in findings
        if f["surface"]["where"] == where and f["kind"] != "contract"
        and f["owner"] and f["owner"] != f["observer"]
        and not f["step"].startswith("fuzz/warm-up")
    ]  # fmt: skip


def test_vulnerable_vampi_books_bola_is_found(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_vampi(vulnerable=True) as url:
        done = subprocess.run(
            [sys.executable, "-m", "chaperone", "run", "--profile", str(VAMPI_PROFILE),
             "--target", url, "--suite", "fuzz", "--population", "user=3", "--fuzz-examples", "5",
             "--out", str(out)],
            capture_output=True, text=True, timeout=900, env=dict(os.environ),
        )  # fmt: skip
    assert "Traceback" not in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert not report["errors"], report["errors"]
    assert done.returncode == 1
    books = _leaks_on(report["findings"], BOOKS)
    assert books, [f["message"] for f in report["findings"]][:10]
    assert {f["canary_kind"] for f in books} == {"note"}  # a book's secret
    assert _leaks_on(report["findings"], DEBUG)
    assert books[0]["repro"][-1]["arg"].startswith("curl ")


def test_fixed_vampi_has_no_books_finding(tmp_path: Path) -> None:
    with running_vampi(vulnerable=False) as url:
        options = RunOptions(
            suites=("fuzz",), population={"user": 3}, fuzz_examples=5,
            fuzz_contract_checks=True,
        )  # fmt: skip
        request = RunRequest(url, options, tmp_path, "", profile=load_profile(VAMPI_PROFILE))
        events = list(run(request))
    assert not [e.message for e in events if isinstance(e, EngineError)]
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    on_books = [f for f in findings if f.surface.where == BOOKS and f.kind != "contract"]
    assert not on_books, [f.message for f in on_books]
    assert [f for f in findings if f.surface.where == DEBUG and f.is_exposure]
    contract = [f for f in findings if f.kind == "contract"]
    assert contract and not any(f.is_exposure for f in contract)
    assert all(f.check.startswith("schemathesis:") for f in contract)
    suite = next(e for e in events if isinstance(e, SuiteFinished))
    assert suite.metrics["contract_failures"] == len(contract)  # each distinct one raised once
