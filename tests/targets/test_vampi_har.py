"""VAmPI's `_debug` route (every user's password) found without naming it in the profile.

VAmPI's answers link nowhere, so the crawl cannot reach `_debug`; a browser session a QA
engineer recorded can. With `discover:` (the OpenAPI document) removed from the profile, the
run misses the route; with `--har` of a recorded session it reads `_debug` as every user,
repeats it as the others and finds the passwords, and the report names the route and its
source.
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
import yaml

from tests.services.vampi import PROFILE, Vampi, vampi

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HAR = ROOT / "tests" / "fixtures" / "vampi-session.har"
DEBUG = "GET /users/v1/_debug"


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vampi]:
    with vampi(tmp_path_factory.mktemp("vampi-har"), vulnerable=False) as app:
        yield app


def _undocumented_profile(where: Path) -> Path:
    """vampi.yaml as a team without an OpenAPI document would have it: no `discover:`, its
    load section without the reads only the document names, and `_debug` nowhere."""
    document = yaml.safe_load(PROFILE.read_text())
    document.pop("discover")
    load = document["load"]
    load["reads"] = [r for r in load["reads"] if r["read"] != "GET /me"]  # the document's
    assert load["discovered"] == 1  # what the run discovers is loaded too
    for read in document["reads"]:
        assert "_debug" not in json.dumps(read)
    assert "GET /users/v1/_debug" not in json.dumps(document)
    path = where / "vampi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _run(
    app: Vampi, profile: Path, out: Path, *extra: str, suite: str = "access"
) -> tuple[int, dict[str, Any], str]:
    cmd = [
        sys.executable,
        "-m",
        "chaperone",
        "run",
        "--profile",
        str(profile),
        "--target",
        app.url,
        "--suite",
        suite,
        "--population",
        "user=3",
        "--out",
        str(out),
        *extra,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    report = json.loads((out / "report.json").read_text())
    return done.returncode, report, done.stdout + done.stderr


def _routes(report: dict[str, Any]) -> set[str]:
    return {f["surface"]["where"] for f in report["findings"]}


def test_har_finds_debug_that_the_profile_never_names(fixed: Vampi, tmp_path: Path) -> None:
    profile = _undocumented_profile(tmp_path)
    code, report, output = _run(fixed, profile, tmp_path / "without")
    assert code == 0, output  # without the OpenAPI document nothing reaches `_debug`
    assert DEBUG not in _routes(report)

    code, report, output = _run(fixed, profile, tmp_path / "with", "--har", str(HAR))
    assert code == 1, output
    assert _routes(report) == {DEBUG}
    assert {f["canary_kind"] for f in report["findings"]} == {"password"}
    coverage = report["coverage"]
    assert coverage["discovered_routes"][DEBUG] == "har"
    assert coverage["reads_by_source"]["har"] > 0
    assert coverage["lost"] == 0, coverage["lost_reasons"]


def test_the_load_reads_debug_from_the_har_without_naming_it(fixed: Vampi, tmp_path: Path) -> None:
    """The load section names no `_debug` read: with `load.discovered`, the routes an imported
    HAR names are loaded too, and every user's `_debug` answer holds the others' passwords."""
    profile = _undocumented_profile(tmp_path)
    load = ("--load-seconds", "6", "--slo-min-rps", "0.5")
    code, report, output = _run(fixed, profile, tmp_path / "without", *load, suite="load")
    assert DEBUG not in _routes(report), output
    code, report, output = _run(
        fixed, profile, tmp_path / "with", *load, "--har", str(HAR), suite="load"
    )
    assert code == 1, output
    assert _routes(report) == {DEBUG}
    assert {f["canary_kind"] for f in report["findings"]} >= {"password"}
    assert all(f["owner"] != f["observer"] for f in report["findings"])
