r"""The core knows no clinic: `grep -rn "patient\|clinician\|recording\|consultation" harness/
scenarios/ load/ flags/ reports/` finds nothing but comments and docstrings that give examples.

Profiles (harness/profiles/*.yaml) and release policies (flags/policies/*.yaml) are data, written
in their app's words by design. In Python, identifiers and string literals are checked; comments
and docstrings are not. Other files are checked line by line, skipping `#` comment lines.
"""

from __future__ import annotations

import io
import re
import token
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("harness", "scenarios", "load", "flags", "reports")
APP_WORDS = re.compile(r"patient|clinician|recording|consultation")
DATA = ("harness/profiles/*.yaml", "flags/policies/*.yaml")


def _core_files() -> list[Path]:
    files = [p for d in CORE for p in (ROOT / d).rglob("*") if p.is_file()]
    skipped = {p for pattern in DATA for p in ROOT.glob(pattern)}
    return sorted(
        p for p in files if p not in skipped and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _docstring_starts(source: str) -> set[tuple[int, int]]:
    """Where each docstring token starts: a string that is a whole expression statement."""
    starts: set[tuple[int, int]] = set()
    previous = token.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == token.STRING and previous in (token.NEWLINE, token.INDENT, token.DEDENT):
            starts.add(tok.start)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.type
    return starts


def python_hits(source: str) -> list[tuple[int, str]]:
    """(line, text) of identifiers and string literals naming the app's words."""
    docstrings = _docstring_starts(source)
    hits = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT or tok.start in docstrings:
            continue
        checked = tok.type in (token.NAME, token.STRING, getattr(token, "FSTRING_MIDDLE", -1))
        if checked and APP_WORDS.search(tok.string):
            hits.append((tok.start[0], tok.string))
    return hits


def text_hits(text: str) -> list[tuple[int, str]]:
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if APP_WORDS.search(line) and not line.lstrip().startswith("#")
    ]


def test_the_core_names_no_app_data() -> None:
    found = []
    for path in _core_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits = python_hits(text) if path.suffix == ".py" else text_hits(text)
        found += [f"{path.relative_to(ROOT)}:{n}: {what}" for n, what in hits]
    assert found == [], "app words in the core:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "hits"),
    [
        ('"""A clinician sees their patients."""\nx = 1  # e.g. a recording\n', []),
        ("def f():\n    '''the patient'''\n    return 'owner'\n", []),
        ("patients = 3\n", [(1, "patients")]),
        ("x = f('GET /api/me/recordings')\n", [(1, "'GET /api/me/recordings'")]),
    ],
)
def test_the_check_tells_code_from_comments(source: str, hits: list[tuple[int, str]]) -> None:
    assert python_hits(source) == hits
