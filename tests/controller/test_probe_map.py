"""docs/controller.md maps every probe of issue 25's review to the tests that re-run it against
the controller. This keeps the map from rotting: every probe keeps its row, every row names a
test, and every named test is collected by pytest under that name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Review probes and the tests that refuse or detect them"
NODE = re.compile(r"`(tests/[\w/]+\.py::\w+)`")
# The issue's "Why", one key phrase a probe: its row must still be there.
PROBES = [
    "the enabler chooses the key",
    "the pin swapped or deleted",
    "a revocation deleted",
    "pin and revocation tags edited by hand",
    "an old consistent copy",
    "re-chained log",
    "lines added after the head",
    "an empty head",
    "revocation matches the build string",
    "check-then-act",
    "a full disk",
    "the loopback target",
    "Unleash outage",
    "secrets in children",
    "killed between its disable and its revoke",
    "outside `allowed_targets`",
    "/dev/zero",
    '["?*"]',
    "the CI identity",
    "nested 50,000 deep",
    "world.json",
    "5-character support token",
    "turns the flag on directly",
]


def _rows() -> list[str]:
    text = (ROOT / "docs" / "controller.md").read_text()
    assert SECTION in text, f"docs/controller.md lost its section {SECTION!r}"
    after = text.split(SECTION, 1)[1]
    rows = [line for line in after.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows, "the probe table has no rows"
    return rows


def test_every_probe_of_the_issue_has_a_row_and_every_row_names_a_test() -> None:
    rows = _rows()
    for probe in PROBES:
        assert any(probe in row.split("|")[2] for row in rows), f"no row for probe: {probe}"
    for row in rows:
        assert NODE.search(row.split("|")[4]), f"a row names no test: {row[:80]}"
    assert len(rows) == len(PROBES)


def test_every_test_the_probe_map_names_is_collected_under_that_name() -> None:
    named = sorted({node for row in _rows() for node in NODE.findall(row)})
    files = sorted({node.split("::", 1)[0] for node in named})
    missing_files = [name for name in files if not (ROOT / name).is_file()]
    assert missing_files == [], f"named in docs/controller.md but absent: {missing_files}"
    # Whole files, so one wrong name is reported alone rather than failing the collection.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    collected = {line.split("[", 1)[0] for line in done.stdout.splitlines() if "::" in line}
    missing = [node for node in named if node not in collected]
    assert missing == [], f"named in docs/controller.md but not collected: {missing}\n{done.stderr}"
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
