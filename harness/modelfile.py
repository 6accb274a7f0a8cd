"""Loading a YAML file into a strict pydantic model, with one-line errors a person can act on.

Policies and target profiles are both written by hand, so both go through here:

* the file must be UTF-8 and valid YAML (the line of a syntax error is named);
* a key given twice in one mapping is an error, not "the last one wins" (PyYAML's default
  silently drops the first, so a reviewer reading the file sees a value that is not in force);
* a misspelt field gets "did you mean ...", a missing one is named, a bad value names its path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.bounded import read_bounded, read_bounded_text
from harness.errors import ConfigError

__all__ = ["duplicate_free_yaml", "load_model", "validation_error"]

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and key_node.value.lower() not in ("true", "false"):
            # YAML 1.1 reads on/off/yes/no as booleans, so `on: x` silently loses its key.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key '{key_node.value}' reads as a boolean in YAML; write it quoted",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key '{key}' appears twice (lines {seen[key] + 1} and "
                f"{key_node.start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def duplicate_free_yaml(text: str) -> Any:
    """Parse YAML, refusing duplicate keys. Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def load_model(model: type[M], path: Path | str, what: str, schema_name: str) -> M:
    """Read `path` as YAML and validate it into `model`; every problem is one ConfigError.

    `what` names the file kind in messages ("policy", "profile"); `schema_name` is the JSON
    Schema file a user should read.
    """
    path = Path(path)
    raw = _read_yaml(path, what)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{what} {path} must be a mapping of fields", f"see {schema_name} for the fields"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(model, path, what, schema_name, exc) from None


def _read_yaml(path: Path, what: str) -> Any:
    fix = f"pass the path of a {what} YAML file"
    try:
        text = read_bounded_text(path, what, fix=fix)
    except FileNotFoundError:
        raise ConfigError(f"cannot read {what} {path}: No such file or directory", fix) from None
    try:
        return duplicate_free_yaml(text)
    except RecursionError:
        # PyYAML composes nested nodes recursively: 50,000 `[` is not a file anyone wrote.
        raise ConfigError(
            f"{what} {path} is nested too deeply to be read",
            "write it as the schema's flat mapping of fields",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(
            f"{what} {path} is not valid YAML{line}: {problem}",
            "fix the syntax (indentation, colons, quotes) and give each key once",
        ) from None


def validation_error(
    model: type[BaseModel], path: Path, what: str, schema_name: str, exc: ValidationError
) -> ConfigError:
    error = _most_useful(exc.errors())
    loc = error["loc"]
    where = ".".join(str(part) for part in loc) or "(top level)"
    line = _line_of_placeholder(path, error["msg"])
    path_text = f"{path}, line {line}" if line else str(path)
    if error["type"] == "extra_forbidden":
        return ConfigError(
            f"{what} {path_text}: {_unknown_field(model, loc)}",
            f"remove it or fix the spelling; see {schema_name}",
        )
    if error["type"] == "missing":
        return ConfigError(
            f"{what} {path_text}: field '{where}' is required", f"add it; see {schema_name}"
        )
    message = error["msg"].removeprefix("Value error, ")
    if not loc:  # a whole-file check names its own field
        return ConfigError(f"{what} {path_text}: {message}", f"see {schema_name}")
    return ConfigError(
        f"{what} {path_text}: field '{where}': {message}",
        f"see {schema_name} for the allowed values",
    )


_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def _line_of_placeholder(path: Path, message: str) -> int | None:
    """The line of the first string in the file holding the `{{placeholder}}` that `message`
    quotes: a validator sees the parsed model, only the file knows where a string was."""
    quoted = _PLACEHOLDER.search(message)
    if quoted is None:
        return None
    try:
        root = yaml.compose(read_bounded(path, "file").decode("utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ConfigError, RecursionError):
        return None
    for node in _scalars(root):
        if quoted.group(1) in _PLACEHOLDER.findall(str(node.value)):
            return int(node.start_mark.line) + 1
    return None


def _scalars(node: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key)
            yield from _scalars(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)


def _most_useful(errors: list[ErrorDetails]) -> ErrorDetails:
    # A misspelt key also shows up as the real key "missing"; the spelling is the actual mistake.
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def _unknown_field(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1])
    prefix = ".".join(str(part) for part in loc[:-1])
    shown = f"{prefix}.{name}" if prefix else name
    close = difflib.get_close_matches(name, _fields_at(model, loc[:-1]), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{shown}'{hint}"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            continue  # a dict key (a free-named role, flow ...): its value is `current`
        nested = _model_in(field.annotation)
        if nested is None:
            return []
        current = nested
    return list(current.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
