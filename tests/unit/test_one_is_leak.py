""" "Is this finding a leak?" is decided once, by `Finding.is_leak`: the watch's kill switch,
stateful shrinking and the controls must never disagree about it. A copy of the decision (an
`is_exposure or ... CRITICAL` test) anywhere else in the code fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.models import Finding, Severity, Surface, SurfaceKind

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "load", "scenarios", "flags", "reports", "chaperone", "selftest", "bench")
HOME = ROOT / "harness" / "models.py"


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _names(node: ast.AST) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Name):
            found.add(sub.id)
    return found


def _leak_decisions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    places = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and {"is_exposure", "CRITICAL"} <= _names(node):
            places.append(f"{path.relative_to(root)}:{node.lineno}")
        if isinstance(node, ast.FunctionDef) and node.name == "is_leak":
            places.append(f"{path.relative_to(root)}:{node.lineno} def is_leak")
    return places


def test_the_leak_decision_is_made_in_one_place() -> None:
    places = [p for path in _sources() for p in _leak_decisions(path)]
    assert len(places) == 2, places  # Finding.is_leak and the test inside it
    assert all(p.startswith("harness/models.py:") for p in places), places


def test_the_scan_sees_a_copy(tmp_path: Path) -> None:
    copy = tmp_path / "copy.py"
    copy.write_text("def bad(f):\n    return f.is_exposure or f.severity is S.CRITICAL\n")
    assert _leak_decisions(copy, tmp_path) == ["copy.py:2"]


def test_is_leak_means_someone_elses_data_or_a_critical_finding() -> None:
    base = Finding("c", "k", Severity.HIGH, "m", "p2", Surface(SurfaceKind.JSON, "GET /x"), "s", 0)
    assert not base.is_leak
    assert Finding("c", "k", Severity.LOW, "m", "p2", base.surface, "s", 0, owner="p1").is_leak
    assert not Finding("c", "k", Severity.LOW, "m", "p2", base.surface, "s", 0, owner="p2").is_leak
    assert Finding("c", "k", Severity.CRITICAL, "m", "p2", base.surface, "s", 0).is_leak
