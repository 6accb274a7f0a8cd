from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from reports.result import RunCollector
from reports.writer import write_all
from tests.reports.streams import failing_run


def test_writes_three_reports(tmp_path: Path) -> None:
    paths = write_all(
        RunCollector().consume(failing_run()), tmp_path / "out" / "run1", secrets=["p1's note"]
    )
    assert set(paths) == {"json", "junit", "html"}
    assert sorted(p.name for p in (tmp_path / "out" / "run1").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
    ]
    assert json.loads(paths["json"].read_text())["verdict"] == "fail"
    for path in paths.values():
        assert "p1's note" not in path.read_text()


def test_out_path_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        write_all(RunCollector().consume(failing_run()), blocker / "sub")
    assert str(info.value).startswith(f"cannot write to {blocker / 'sub'}: ")
    assert str(info.value).endswith("; pass a writable --out")
