"""Find canaries in bytes, fast: one Hyperscan (Vectorscan) database over every canary.

What an observer received can carry a canary in several spellings, and all of them count:

    raw            zq4k...          (the common case)
    upper-cased    ZQ4K...          (a template that shouts)
    HTML-escaped   &#122;&#x71;...  (numeric character references)
    JSON-escaped   \\u007a\\u0071...
    percent-coded  %7A%71...        (URLs, Location and Set-Cookie headers)

Speed matters because the oracle reads every byte of every response (media included) for every
synthetic user, inside every remote load worker. `bench` measures the alternatives side by side
(`oracle_alternatives` in bench.json); Hyperscan won because of two flags:

* Every canary is a case-insensitive literal (`HS_FLAG_CASELESS`), so raw bytes are matched in
  place: no lower-cased copy, no text view, no slicing.
* `HS_FLAG_SINGLEMATCH` reports each canary once per scan, its first occurrence. A listing of
  the observer's own data repeats their few canaries thousands of times; an automaton reports
  every repeat to Python, Hyperscan only the first. So Python runs once per distinct canary
  present, never once per byte or per occurrence. That is also why the observer's own
  canaries are not skipped here: dropping them before the Python-level work (bench's
  `hyperscan+skip-own`) moved the oracle's CPU time by -4% to +17% (median +3%) over 12
  runs, not enough to tie the matcher to who owns what.

Escaped views are decoded only near an escape that could spell a canary character (`&#122;`,
not Jinja's `&#39;`). The database also holds those escape markers (single-match too): a body
without one costs nothing more, and one with any gets every escape located by literal-prefixed
regexes (C speed) and decoded in windows around them.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import hyperscan

from harness.models import Canary

__all__ = ["BACKEND", "CanaryMatcher", "Hit"]

BACKEND = "hyperscan"

_MAX_ESCAPE = 10  # longest escape we decode for one character: "&#x0007a;"
# Only the escapes that can spell a canary. An escaped backslash is deliberately left alone,
# so a "u007a" after it still reads as "z": that may over-report, never under-report.
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")

# Escapes of code points 0x30-0x7f, which hold every ASCII letter and digit.
# Each regex has a literal prefix, so `re` scans in C; the leading byte is checked first with
# `in` (memchr) so a body without it skips that regex entirely.
_ASCII_ESCAPES = (
    (
        b"&",
        re.compile(
            rb"&#(?:[xX]0{0,4}[3-7][0-9a-fA-F]|0{0,4}(?:4[89]|[5-9][0-9]|1[01][0-9]|12[0-7]))"
        ),
    ),
    (b"\\", re.compile(rb"\\u00[3-7][0-9a-fA-F]")),
    (b"%", re.compile(rb"%[3-7][0-9a-fA-F]")),
)
# The same escapes as case-insensitive literals (a superset of the regexes): the scan reports
# whether any is present, and only then do the regexes run.
_ASCII_MARKERS = (
    *(f"&#{d}" for d in "01456789"),
    *(f"&#x{d}" for d in "034567"),
    *(f"\\u00{d}" for d in "34567"),
    *(f"%{d}" for d in "34567"),
)
_ANY_MARKERS = ("&#", "\\u", "\\/", "%")
# Any escape at all, for canaries that use characters outside 0x30-0x7f.
_ANY_ESCAPES = (
    (b"&", re.compile(rb"&#[xX]?[0-9a-fA-F]{1,7}")),
    (b"\\", re.compile(rb"\\u[0-9a-fA-F]{4}|\\/")),
    (b"%", re.compile(rb"%[0-9a-fA-F]{2}")),
)
Escapes = tuple[tuple[bytes, re.Pattern[bytes]], ...]
_FLAGS = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH


@dataclass(frozen=True, slots=True)
class Hit:
    """One canary found. `start` is its byte offset (approximate inside an escaped region)."""

    canary: Canary
    start: int


class CanaryMatcher:
    """All canaries of a world in one database. Matching is case-insensitive.

    Safe to share between threads: each thread scans with its own Hyperscan scratch space.
    """

    def __init__(self, canaries: Iterable[Canary]) -> None:
        self.canaries: tuple[Canary, ...] = tuple(canaries)
        self._by_value: dict[str, tuple[Canary, ...]] = {}
        for canary in self.canaries:
            key = canary.value.lower()
            if key:  # an empty value would match everywhere; it is no canary
                self._by_value[key] = (*self._by_value.get(key, ()), canary)
        self.max_length = max((len(v) for v in self._by_value), default=0)
        ascii_only = all(0x30 <= ord(ch) <= 0x7F for ch in "".join(self._by_value))
        self._escapes: Escapes = _ASCII_ESCAPES if ascii_only else _ANY_ESCAPES
        markers = _ASCII_MARKERS if ascii_only else _ANY_MARKERS
        # Pattern id -> (canary value, or "" for an escape marker; its length in bytes).
        patterns = _patterns(self._by_value, markers)
        self._patterns = tuple((value, len(spelling)) for value, spelling in patterns)
        self._database = _compile(patterns) if self._by_value else None
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self.canaries)

    def scan(self, data: bytes, *, unescape: bool = True) -> list[Hit]:
        """Every canary in `data`, once each, in order of first appearance.

        `unescape=False` skips the escaped views: right for media bytes, which nothing decodes.
        """
        if self._database is None:
            return []
        found: dict[str, int] = {}  # lower-cased value -> first start
        escaped = self._scan(data, 0, found)
        if unescape and escaped:
            for begin, end in escaped_windows(data, self._escapes, self.max_length):
                text = _unescape(data[begin:end].decode("latin-1")).lower()
                # surrogatepass: a JSON "\ud83d" decodes to a lone surrogate
                self._scan(text.encode("utf-8", "surrogatepass"), begin, found)
        hits = [Hit(c, start) for value, start in found.items() for c in self._by_value[value]]
        hits.sort(key=lambda hit: hit.start)
        return hits

    def _scan(self, data: bytes, offset: int, found: dict[str, int]) -> bool:
        """Record each canary's first start in `found`; was any escape marker seen?"""
        patterns = self._patterns
        marked = False

        def on_match(pattern: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            nonlocal marked
            value, length = patterns[pattern]
            if not value:
                marked = True
            elif value not in found:
                found[value] = offset + to - length

        assert self._database is not None
        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return marked

    def _scratch(self) -> hyperscan.Scratch:
        """This thread's scratch space: Hyperscan refuses one scratch in two scans at once."""
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        return scratch


def escaped_windows(data: bytes, escapes: Escapes, max_length: int) -> Iterator[tuple[int, int]]:
    """Windows around every escape that could spell a character of a canary."""
    marks = sorted(
        m.start() for lead, pattern in escapes if lead in data for m in pattern.finditer(data)
    )
    reach = max_length * _MAX_ESCAPE
    return _merge((max(0, m - reach) for m in marks), 2 * reach)


def _patterns(
    by_value: dict[str, tuple[Canary, ...]], markers: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    """(canary value, or "" for an escape marker; the bytes to find), in pattern-id order."""
    spellings = [(value, spelling) for value in by_value for spelling in _spellings(value)]
    return spellings + [("", marker.encode()) for marker in markers]


def _spellings(value: str) -> list[bytes]:
    """UTF-8 (what a target sends) and, where it exists, latin-1 (one byte per character, as
    raw bytes were always read). The same bytes for an ASCII canary."""
    spellings = [value.encode("utf-8")]
    with contextlib.suppress(UnicodeEncodeError):
        if (latin := value.encode("latin-1")) != spellings[0]:
            spellings.append(latin)
    return spellings


def _compile(patterns: list[tuple[str, bytes]]) -> hyperscan.Database:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[spelling for _, spelling in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=_FLAGS,
        literal=True,
    )
    return database


def _merge(starts: Iterable[int], width: int, gap: int = 0) -> Iterator[tuple[int, int]]:
    """Windows [start, start + width) merged where they overlap or lie within `gap` bytes.

    `starts` must be sorted.
    """
    span: tuple[int, int] | None = None
    for start in starts:
        if span is not None and start <= span[1] + gap:
            span = (span[0], max(span[1], start + width))
            continue
        if span is not None:
            yield span
        span = (start, start + width)
    if span is not None:
        yield span


def _unescape(text: str) -> str:
    """JSON, then HTML, then percent: a JSON string may carry an escaped '&' or '%'."""
    text = _JSON_ESCAPE.sub(_json_char, text) if "\\" in text else text
    text = html.unescape(text) if "&" in text else text
    return unquote(text, encoding="latin-1") if "%" in text else text


def _json_char(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code, 16)) if code is not None else "/"
