"""Find canaries in bytes, fast: one Aho-Corasick automaton over every canary.

What an observer received can carry a canary in several spellings, and all of them count:

    raw            zq4k...          (the common case)
    upper-cased    ZQ4K...          (a template that shouts)
    HTML-escaped   &#122;&#x71;...  (numeric character references)
    JSON-escaped   \\u007a\\u0071...
    percent-coded  %7A%71...        (URLs, Location and Set-Cookie headers)

Speed matters because the oracle reads every byte of every response (media included) for every
synthetic user. pyahocorasick's PyPI wheel is the unicode build, so the automaton runs over a
`latin-1` view of the bytes (one code point per byte, so offsets are byte offsets), lower-cased
first (canaries are matched case-insensitively). Walking it costs 3-4 ms/MB, so:

* Prefilter. Canaries from `make_canary` all start with the same two characters. When the
  canaries share only a few 2-character prefixes, `bytes.find` (C) locates the candidates and
  the automaton walks only short windows there (media: a handful per MB). It still decides
  every match; the prefilter only skips bytes that cannot start one. A body dense with
  candidates (a listing of the observer's own data), or canaries with many prefixes, are
  walked whole.
* The automaton walks 256 KB slices: it copies its input to UCS-4, which stays in cache for a
  slice and does not for a whole recording (2-3x slower).
* Escaped views are decoded only near an escape that could spell a canary character
  (`&#122;`, not Jinja's `&#39;`). A body walked whole gets those escapes from the same walk
  (they are words of the automaton too); a windowed one from literal-prefixed regexes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import ahocorasick

from harness.models import Canary

__all__ = ["CanaryMatcher", "Hit"]

_PREFIX = 2
_MAX_PREFIXES = 4  # one find() pass over the bytes per prefix
# Candidates closer than this share one walk; a body denser than one per this many bytes is
# walked whole. Per window, Python overhead costs about as much as walking this many bytes.
_DENSE = 512
_SLICE = 1 << 18
_MAX_ESCAPE = 10  # longest escape we decode for one character: "&#x0007a;"
# Only the escapes that can spell a canary. An escaped backslash is deliberately left alone,
# so a "u007a" after it still reads as "z": that may over-report, never under-report.
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")

# Escapes of code points 0x30-0x7f, which hold every ASCII letter and digit.
# Each regex has a literal prefix, so `re` scans in C at GB/s; the leading byte is checked
# first with `in` (memchr) so a body without it skips that regex entirely.
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
# The same escapes as automaton words (over a lower-cased view, a superset of the regexes):
# a body the automaton walks whole reports its escapes on the way, and skips the regexes.
_ASCII_MARKERS = (
    *(f"&#{d}" for d in "01456789"),
    *(f"&#x{d}" for d in "034567"),
    *(f"\\u00{d}" for d in "34567"),
    *(f"%{d}" for d in "34567"),
)
_ANY_MARKERS = ("&#", "\\u", "\\/", "%")
_LONGEST_MARKER = max(map(len, _ASCII_MARKERS + _ANY_MARKERS))
# Any escape at all, for canaries that use characters outside 0x30-0x7f.
_ANY_ESCAPES = (
    (b"&", re.compile(rb"&#[xX]?[0-9a-fA-F]{1,7}")),
    (b"\\", re.compile(rb"\\u[0-9a-fA-F]{4}|\\/")),
    (b"%", re.compile(rb"%[0-9a-fA-F]{2}")),
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One canary found. `start` is its byte offset (approximate inside an escaped region)."""

    canary: Canary
    start: int


class CanaryMatcher:
    """All canaries of a world in one automaton. Matching is case-insensitive."""

    def __init__(self, canaries: Iterable[Canary]) -> None:
        self.canaries: tuple[Canary, ...] = tuple(canaries)
        self._by_value: dict[str, tuple[Canary, ...]] = {}
        for canary in self.canaries:
            key = canary.value.lower()
            self._by_value[key] = (*self._by_value.get(key, ()), canary)
        self.max_length = max((len(v) for v in self._by_value), default=0)
        alphabet = "".join(self._by_value)
        ascii_only = all(0x30 <= ord(ch) <= 0x7F for ch in alphabet)
        self._escapes = _ASCII_ESCAPES if ascii_only else _ANY_ESCAPES
        markers = _ASCII_MARKERS if ascii_only else _ANY_MARKERS
        self._automaton = _build_automaton(self._by_value, markers)
        self._needles = _prefilter_needles(self._by_value)
        # Upper-case letters that could begin a shouted canary; absent ones spare a lower() copy.
        self._upper = tuple(
            {ch.encode() for needle in self._needles or () for ch in needle.upper() if ch.isupper()}
        )

    def __len__(self) -> int:
        return len(self.canaries)

    def scan(self, data: bytes, *, unescape: bool = True) -> list[Hit]:
        """Every canary in `data`, once each, in order of first appearance.

        `unescape=False` skips the escaped views: right for media bytes, which nothing decodes.
        """
        if not self._by_value:
            return []
        found: dict[str, int] = {}  # lower-cased value -> first start
        marks: list[int] = []  # escape markers the automaton met on the way
        view, lowered, spans = self._raw_spans(data)
        for begin, end in spans:
            self._walk_bytes(view, begin, end, lowered, found, marks)
        if unescape:
            whole = spans == [(0, len(data))]
            for begin, end in self._escaped_spans(marks if whole else self._escape_marks(data)):
                text = _unescape(data[begin:end].decode("latin-1")).lower()
                self._walk(text, begin, found, None)
        hits = [Hit(c, start) for value, start in found.items() for c in self._by_value[value]]
        hits.sort(key=lambda hit: hit.start)
        return hits

    def _walk_bytes(
        self,
        view: bytes,
        begin: int,
        end: int,
        lowered: bool,
        found: dict[str, int],
        marks: list[int],
    ) -> None:
        """Walk [begin, end) in slices: the automaton reads a UCS-4 copy of its input, which
        stays in cache for a slice and does not for a whole recording (2-3x slower)."""
        overlap = max(self.max_length, _LONGEST_MARKER) - 1
        for at in range(begin, end, _SLICE):
            chunk = view[at : min(at + _SLICE, end) + overlap]
            self._walk((chunk if lowered else chunk.lower()).decode("latin-1"), at, found, marks)

    def _walk(self, text: str, offset: int, found: dict[str, int], marks: list[int] | None) -> None:
        for end, value in self._automaton.iter(text):
            if value:
                if value not in found:
                    found[value] = offset + end - len(value) + 1
            elif marks is not None:
                marks.append(offset + end)

    # -- the raw (case-insensitive) view ---------------------------------------------------

    def _raw_spans(self, data: bytes) -> tuple[bytes, bool, list[tuple[int, int]]]:
        """Where the automaton must walk (everywhere, or only around prefix candidates), over
        which view of `data`, and whether that view is already lower-cased."""
        everything = [(0, len(data))]
        if self._needles is None:
            return data, False, everything
        lowered = any(ch in data for ch in self._upper)
        view = data.lower() if lowered else data  # copy only when a shouted canary can exist
        starts: list[int] = []
        limit = len(data) // _DENSE + 1
        for needle in self._needles:
            for at in _find_all(view, needle.encode("latin-1")):
                starts.append(at)
                if len(starts) > limit:
                    # A listing full of the observer's own canaries: one walk beats a window each.
                    return view, lowered, everything
        starts.sort()
        return view, lowered, list(_merge(starts, self.max_length, gap=_DENSE))

    # -- escaped views -----------------------------------------------------------------------

    def _escape_marks(self, data: bytes) -> list[int]:
        """Escape markers by regex, for bodies the automaton only walked in windows."""
        return [
            m.start()
            for lead, pattern in self._escapes
            if lead in data
            for m in pattern.finditer(data)
        ]

    def _escaped_spans(self, marks: list[int]) -> Iterator[tuple[int, int]]:
        reach = self.max_length * _MAX_ESCAPE
        return _merge((max(0, m - reach) for m in sorted(marks)), 2 * reach)


def _build_automaton(
    by_value: dict[str, tuple[Canary, ...]], markers: tuple[str, ...]
) -> ahocorasick.Automaton:
    """Canaries map to themselves; escape markers map to "" (a canary is never empty)."""
    automaton = ahocorasick.Automaton()
    for marker in markers:
        automaton.add_word(marker, "")
    for value in by_value:
        automaton.add_word(value, value)
    if by_value:
        automaton.make_automaton()
    return automaton


def _prefilter_needles(by_value: dict[str, tuple[Canary, ...]]) -> tuple[str, ...] | None:
    """The distinct lower-case prefixes, or None when the prefilter would not pay off."""
    if not by_value or min(len(v) for v in by_value) < _PREFIX:
        return None
    if any(not v.isascii() for v in by_value):
        return None  # lower-casing non-ASCII in a latin-1 view is not byte-for-byte
    prefixes = tuple(sorted({v[:_PREFIX] for v in by_value}))
    return prefixes if len(prefixes) <= _MAX_PREFIXES else None


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    at = data.find(needle)
    while at != -1:
        yield at
        at = data.find(needle, at + 1)


def _merge(starts: Iterable[int], width: int, gap: int = 0) -> Iterator[tuple[int, int]]:
    """Windows [start, start + width) merged where they overlap or lie within `gap` bytes.

    `starts` must be sorted. Walking a short gap costs less than one more Python-level window.
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
