"""The target contract: a small core every target keeps, and capabilities a suite asks for
explicitly (harness.adapters.capabilities), never by probing the adapter."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

from harness.adapters import Target
from harness.adapters.capabilities import CAPABILITIES, DISCOVERY, PUSH, Capability
from harness.adapters.profile import ProfileTarget
from harness.coverage import Coverage
from tests.unit.fakeapp import FakeApp, profile

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS: list[Any] = [Target, *(c.protocol for c in CAPABILITIES)]


def make() -> ProfileTarget:
    return ProfileTarget(profile(), "http://fake.test", transport=FakeApp().transport())


def _members(protocol: Any) -> dict[str, Any]:
    """A protocol's own members: name -> the function (or property), or None for a field."""
    found: dict[str, Any] = {name: None for name in getattr(protocol, "__annotations__", {})}
    for name, value in vars(protocol).items():
        if inspect.isfunction(value) or isinstance(value, property):
            found[name] = value
    return {n: v for n, v in found.items() if not n.startswith("_")}


def test_the_core_contract_is_small() -> None:
    assert len(_members(Target)) <= 13


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_profile_target_keeps_the_core_and_every_capability(protocol: Any) -> None:
    target = make()
    assert isinstance(target, protocol)
    for name, member in _members(protocol).items():
        if not inspect.isfunction(member):
            assert hasattr(target, name), name
            continue
        mine = getattr(ProfileTarget, name)
        assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(member), name
        wanted = inspect.signature(member).parameters
        have = inspect.signature(mine).parameters
        assert list(have)[: len(wanted)] == list(wanted), name
        extra = [p for p in list(have.values())[len(wanted) :] if p.default is p.empty]
        assert extra == [], f"{name} needs more than the protocol gives: {extra}"


class CoreOnly:
    """A target with the core contract and no capability."""

    def __init__(self) -> None:
        self.profile = make().profile
        self.coverage = Coverage()

    async def check(self) -> None: ...
    async def seed(self, population: Any) -> Any: ...
    async def login(self, actor: Any) -> Any: ...
    def anonymous(self) -> Any: ...
    async def look(self, session: Any, step: str, *, lists_only: bool = False) -> Any: ...
    def has_flow(self, name: str) -> bool:
        return False

    async def flow(
        self, session: Any, name: str, resource: Any, step: str, owner: Any = None
    ) -> Any: ...
    def performer(self, name: str, owner: str) -> str | None:
        return None

    async def replay_as(self, session: Any, observation: Any) -> Any: ...
    def listing(self, observation: Any) -> Any: ...
    async def aclose(self) -> None: ...


def test_a_capability_is_none_for_a_target_without_it() -> None:
    target = CoreOnly()
    assert isinstance(target, Target)
    assert [c.of(target) for c in CAPABILITIES] == [None] * len(CAPABILITIES)
    profile_target = make()
    assert PUSH.of(profile_target) is profile_target
    assert DISCOVERY.of(profile_target) is profile_target


def _probes(tree: ast.AST) -> list[int]:
    """Lines that getattr/hasattr an adapter or target (`getattr(ctx.adapter, ...)`)."""
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in ("getattr", "hasattr") or not node.args:
            continue
        first = node.args[0]
        name = first.attr if isinstance(first, ast.Attribute) else getattr(first, "id", "")
        if name in ("adapter", "target"):
            lines.append(node.lineno)
    return lines


def test_no_suite_probes_the_adapter() -> None:
    probing = {}
    for package in ("scenarios", "load", "harness", "selftest"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = _probes(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                probing[str(path.relative_to(ROOT))] = lines
    assert probing == {}, "ask with ctx.capability(...) instead"


def test_the_probe_scan_sees_a_probe() -> None:
    tree = ast.parse('found = getattr(ctx.adapter, "discovered", None)\nhasattr(target, "x")')
    assert _probes(tree) == [1, 2]


def test_capability_keys_name_runtime_checkable_protocols() -> None:
    for capability in CAPABILITIES:
        assert isinstance(capability, Capability)
        assert getattr(capability.protocol, "_is_runtime_protocol", False), capability.name
