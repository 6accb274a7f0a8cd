"""The pytest plugin, as a QA engineer meets it: the README's scenario test, run by pytest
against a leaking clinic build, fails with one line per exposure (owner → observer, what,
where and when) and the command that plays it again; never a dataclass repr, never the token."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.local_clinic import LocalClinic, local_clinic

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SCENARIO = re.search(r"```python\n(  def test_switch_keeps.*?)  ```", README, re.DOTALL)


@pytest.fixture(scope="module")
def leaking() -> Iterator[LocalClinic]:
    with local_clinic(("switch-recording-misattribution",)) as clinic:
        yield clinic


def test_a_leaking_build_fails_with_one_line_per_exposure_and_the_replay_command(
    pytester: pytest.Pytester, leaking: LocalClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SCENARIO is not None, "the README's pytest example moved"
    pytester.makepyfile(test_scenario=textwrap.dedent(SCENARIO.group(1)))
    monkeypatch.setenv("CHAPERONE_SUPPORT_TOKEN", leaking.support_token)  # as the README says
    result = pytester.runpytest_subprocess(
        "--chaperone-target", leaking.url, "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    exposures = re.findall(
        r"^E\s+(\S+) → (\S+): (.+?) at (.+) \((\d\d:\d\d:\d\d) UTC\)$", out, re.MULTILINE
    )
    assert exposures, out
    for owner, observer, what, where, _ in exposures:
        assert owner.startswith("p0-") and observer.startswith("p1-")  # p0's call, filed to p1
        assert "name (patient display name)" in what
        assert "json:GET /api/me/recordings" in where.split(", ")
    assert re.search(r"^E\s+assert \d+ finding\(s\): the look saw data it may not$", out, re.M)
    replay = (
        "replay: pytest test_scenario.py::test_switch_keeps_recordings_private --chaperone-seed 0 "
        f"--chaperone-target {leaking.url}  (with CHAPERONE_SUPPORT_TOKEN exported)"
    )
    assert replay in out
    assert "Finding(" not in out and "chec..." not in out
    assert leaking.support_token not in out
