"""Hand-written YAML (policies, profiles) fails with one line that names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from harness.errors import ConfigError
from harness.modelfile import load_model


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: int = 1


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: dict[str, Inner] = {}


def _load(tmp_path: Path, text: str | bytes) -> Outer:
    path = tmp_path / "f.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return load_model(Outer, path, "profile", "x.schema.json")


def test_valid_file_loads(tmp_path: Path) -> None:
    assert _load(tmp_path, "name: a\nitems: {b: {weight: 3}}\n").items["b"].weight == 3


def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'name' appears twice \(lines 1 and 3\)"):
        _load(tmp_path, "name: a\nitems: {}\nname: b\n")


def test_non_utf8_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not UTF-8"):
        _load(tmp_path, b"name: \xff\xfe\n")


def test_misspelt_field_inside_a_free_named_mapping_gets_a_suggestion(tmp_path: Path) -> None:
    hint = r"unknown field 'items.b.wieght' \(did you mean 'weight'"
    with pytest.raises(ConfigError, match=hint):
        _load(tmp_path, "name: a\nitems: {b: {wieght: 3}}\n")


def test_missing_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="field 'name' is required"):
        _load(tmp_path, "items: {}\n")
