"""`--help` shows placeholders as written. Help is rendered as Markdown, where a bare
`flags-<env>.json` is an HTML tag and came out as `flags-.json`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from chaperone import cli

PLACEHOLDER = re.compile(r"\\?<([a-z][\w-]*)\\?>")


def _root() -> typer.Typer:
    """Every command mounted on a fresh root made like `chaperone`'s own."""
    root = typer.Typer(
        name="chaperone",
        rich_markup_mode=cli.app.rich_markup_mode,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    root.callback()(lambda: None)
    for mount in cli.COMMANDS.values():
        mount(root)
    return root


def _placeholders(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for text in texts:
        for name in PLACEHOLDER.findall(text):
            yield path, name
    # duck-typed: newer Typer releases carry their own copy of click
    for name, sub in getattr(command, "commands", {}).items():
        yield from _placeholders(sub, (*path, name))


def test_every_placeholder_in_help_is_shown_as_written() -> None:
    root = _root()
    found = sorted(set(_placeholders(typer.main.get_command(root), ())))
    assert (("flags", "status"), "env") in found  # --flags-dir's flags-<env>.json
    runner = CliRunner()
    for path, name in found:
        shown = runner.invoke(root, [*path, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, shown.output
        assert f"<{name}>" in shown.output, (path, name)
        assert "\\<" not in shown.output, path


def test_every_command_module_is_in_the_independence_contract() -> None:
    """A new `*_cmd` module left out of the contract could call another command unseen."""
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    config = tomllib.loads((repo / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (independent,) = [c for c in contracts if c["name"] == "A command never calls another command"]
    modules = {f"chaperone.{p.stem}" for p in (repo / "chaperone").glob("*_cmd.py")}
    assert set(independent["modules"]) == modules
