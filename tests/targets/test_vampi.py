"""The gate on an app nobody here wrote: VAmPI, driven only by examples/targets/vampi.yaml.

- vulnerable=1: the gate fails, with findings on the books BOLA and on `_debug` passwords;
- vulnerable=0: the gate fails on `_debug` alone (VAmPI leaks it in both modes);
- vulnerable=0 with `_debug` an accepted exposure: the gate passes;
- coverage is complete: no read is lost to an expired token, with VAmPI's own 60 s tokens,
  and with 3 s tokens that expire many times during a run;
- without a reset (vampi-noreset.yaml): a seed used twice against one VAmPI still completes,
  because each run and each stateful example registers fresh users under a namespace of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

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


def gate(
    app: Vampi, policy: str, out: Path, *extra: str, examples: Path = EXAMPLES
) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "CHAPERONE_GATE_SIGNING_KEY": SIGNING_PEM}
    cmd = [
        sys.executable,
        "-m",
        "chaperone",
        "gate",
        "--build",
        "vampi-test",
        "--policy",
        str(examples / policy),
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
    # VAmPI verifies its HS256 tokens (signature and expiry): every forgery of a JWT claiming
    # another user was sent, and none was believed
    forged = {k: v for k, v in report["suites"]["access"]["metrics"].items() if "forged" in k}
    assert set(forged) == {
        "forged original signature",
        "forged signature stripped",
        "forged alg none",
        "forged expired, original signature",
    }
    assert all(count > 0 for count in forged.values())


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
            "--population",
            "user=3",
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


# -- no reset: examples/targets/vampi-noreset.yaml leaves VAmPI's /createdb out -------------------


def noreset_policy(tmp_path: Path, accepted: bool) -> Path:
    """The example policy (or its accepted-exposure twin) driving vampi-noreset.yaml."""
    source = "vampi-policy-accepted.yaml" if accepted else "vampi-policy.yaml"
    text = (EXAMPLES / source).read_text()
    assert "profile: vampi.yaml" in text
    policy = tmp_path / f"noreset-{source}"
    policy.write_text(
        text.replace("profile: vampi.yaml", f"profile: {EXAMPLES / 'vampi-noreset.yaml'}")
    )
    return policy


def test_noreset_profile_is_vampi_yaml_without_its_reset() -> None:
    plain = yaml.safe_load((EXAMPLES / "vampi.yaml").read_text())
    noreset = yaml.safe_load((EXAMPLES / "vampi-noreset.yaml").read_text())
    assert plain["reset"] and "reset" not in noreset
    assert "GET /createdb" in noreset["unsafe"]  # discovery must never wipe the app either
    register = noreset["roles"]["user"]["create"][0]
    assert register.pop("capture") == {"registered": {"regex": "(Successfully registered)"}}
    for doc in (plain, noreset):
        for key in ("reset", "name", "description"):
            doc.pop(key, None)
    assert noreset == plain


def noreset_gate(
    app: Vampi, tmp_path: Path, accepted: bool, out: Path
) -> tuple[int, dict[str, Any], str]:
    policy = noreset_policy(tmp_path, accepted).name
    return gate(app, policy, out, "--seed", "11", examples=tmp_path)


def registered(app: Vampi) -> list[str]:
    return [u["username"] for u in httpx.get(f"{app.url}/users/v1", timeout=10).json()["users"]]


def test_noreset_profile_check_says_what_no_reset_costs(tmp_path: Path) -> None:
    with vampi(tmp_path / "app", vulnerable=False) as app:
        own = len(registered(app))
        for _ in range(2):  # seed 0 both times: the second must not meet the first's users
            cmd = [sys.executable, "-m", "chaperone", "profile", "check"]
            cmd += [str(EXAMPLES / "vampi-noreset.yaml"), "--target", app.url]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "no reset:" in done.stdout and "data accumulates" in done.stdout
            assert "list-count judges only this run's items" in done.stdout
        assert len(registered(app)) == own + 2  # one user per check, none deleted


@pytest.mark.parametrize("mode", ["vulnerable", "fixed"])
def test_noreset_vampi_twice_with_one_seed(mode: str, tmp_path: Path) -> None:
    """Two gates with the same seed against one VAmPI that is never reset, stateful included:
    both complete with VAmPI's verdict (the BOLA on the vulnerable build; a pass on the fixed
    one, with its `_debug` listing accepted)."""
    vulnerable = mode == "vulnerable"
    with vampi(tmp_path / "app", vulnerable=vulnerable) as app:
        before = registered(app)
        results = [
            noreset_gate(app, tmp_path, not vulnerable, tmp_path / f"run{i}") for i in (1, 2)
        ]
        after = registered(app)
    for code, report, output in results:
        assert report, output
        assert_full_coverage(report)
        assert {"switch", "access", "stateful"} <= set(report["suites"]), output
        if vulnerable:
            assert code == 1, output
            bola = [f for f in report["findings"] if f["surface"]["where"] == BOLA]
            assert bola and {f["canary_kind"] for f in bola} == {"note"}
        else:
            assert code == 0, output
            assert report["verdict"] == "pass"
    assert len(after) == len(set(after))  # nobody registered twice
    assert set(before) <= set(after)  # VAmPI's own users were never wiped
    assert len(after) - len(before) > 2 * 3  # both runs' users (and stateful's) stay
