"""The gate on an app nobody here wrote: VAmPI, driven only by examples/targets/vampi.yaml.

- vulnerable=1: the gate fails, with findings on the books BOLA and on `_debug` passwords;
- vulnerable=0: the gate fails on `_debug` alone (VAmPI leaks it in both modes);
- vulnerable=0 with `_debug` an accepted exposure: the gate passes;
- coverage is complete: no read is lost to an expired token, with VAmPI's own 60 s tokens,
  and with 3 s tokens that expire many times during a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flags.keys import new_signing_key
from tests.gate.test_gate_fail_closed import verdict_result
from tests.services.vampi import Vampi, vampi

SIGNING_PEM = new_signing_key().pem().decode()

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "targets"
BOLA = "GET /books/v1/{book_title}"
DEBUG = "GET /users/v1/_debug"


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vampi]:
    with vampi(tmp_path_factory.mktemp("vampi1"), vulnerable=True) as app:
        yield app


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vampi]:
    with vampi(tmp_path_factory.mktemp("vampi0"), vulnerable=False) as app:
        yield app


def gate(app: Vampi, policy: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "CHAPERONE_GATE_SIGNING_KEY": SIGNING_PEM}
    cmd = [
        sys.executable,
        "-m",
        "chaperone",
        "gate",
        "--build",
        "vampi-test",
        "--policy",
        str(EXAMPLES / policy),
        "--target",
        app.url,
        "--out",
        str(out),
        *extra,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return done.returncode, report, done.stdout + done.stderr


def routes(report: dict[str, Any], accepted: bool | None = None) -> set[str]:
    return {
        f["surface"]["where"]
        for f in report["findings"]
        if accepted is None or bool(f["accepted"]) == accepted
    }


def assert_full_coverage(report: dict[str, Any]) -> None:
    coverage = report["coverage"]
    assert coverage["lost"] == 0, coverage["lost_reasons"]
    assert coverage["ratio"] == 1.0 and coverage["checked"] > 50


def test_vulnerable_vampi_fails_on_the_bola_and_debug(vulnerable: Vampi, tmp_path: Path) -> None:
    code, report, output = gate(vulnerable, "vampi-policy.yaml", tmp_path)
    assert code == 1, output
    assert report["verdict"] == "fail"
    assert {BOLA, DEBUG} <= routes(report)
    bola = [f for f in report["findings"] if f["surface"]["where"] == BOLA]
    assert {f["canary_kind"] for f in bola} == {"note"}  # the book's secret
    assert all(f["owner"] != f["observer"] for f in bola)
    assert_full_coverage(report)
    assert verdict_result(tmp_path / "verdict.json") == "fail"


def test_fixed_vampi_fails_on_debug_alone(fixed: Vampi, tmp_path: Path) -> None:
    code, report, output = gate(fixed, "vampi-policy.yaml", tmp_path)
    assert code == 1, output
    assert routes(report) == {DEBUG}
    assert {f["canary_kind"] for f in report["findings"]} == {"password"}
    assert_full_coverage(report)


def test_fixed_vampi_passes_with_debug_accepted(fixed: Vampi, tmp_path: Path) -> None:
    code, report, output = gate(fixed, "vampi-policy-accepted.yaml", tmp_path)
    assert code == 0, output
    assert report["verdict"] == "pass"
    # still reported, marked accepted, never hidden
    assert routes(report, accepted=True) == {DEBUG} and routes(report, accepted=False) == set()
    assert verdict_result(tmp_path / "verdict.json") == "pass"
    assert_full_coverage(report)


def test_short_lived_tokens_expire_mid_run_and_nothing_is_lost(tmp_path: Path) -> None:
    """3 s tokens, and a profile that only logs in again when refused (no proactive refresh):
    every read that met an expired token is repeated after a re-login, none is lost."""
    profile = (
        (EXAMPLES / "vampi.yaml")
        .read_text()
        .replace("relogin: {on_status: [401], every_seconds: 45}", "relogin: {on_status: [401]}")
    )
    assert "every_seconds" not in profile
    (tmp_path / "vampi.yaml").write_text(profile)
    env = dict(os.environ)
    with vampi(tmp_path / "app", vulnerable=False, token_ttl=3) as app:
        cmd = [
            sys.executable,
            "-m",
            "chaperone",
            "run",
            "--profile",
            str(tmp_path / "vampi.yaml"),
            "--target",
            app.url,
            "--suite",
            "switch",
            "--suite",
            "access",
            "--suite",
            "stateful",
            "--patients",
            "3",
            "--out",
            str(tmp_path / "out"),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        log = app.log.read_text(errors="replace")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert done.returncode == 1, done.stdout + done.stderr  # _debug, as always
    assert log.count("/users/v1/login") > 3 * 3  # far more logins than users: tokens expired
    assert " 401 " in log  # VAmPI really refused expired tokens
    assert_full_coverage(report)
