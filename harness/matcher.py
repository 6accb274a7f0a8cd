"""Find canaries in bytes, fast: one Hyperscan (Vectorscan) database over every canary.

What an observer received can carry a canary in several spellings, and all of them count:

    raw            zq4k...          (the common case)
    upper-cased    ZQ4K...          (a template that shouts)
    HTML-escaped   &#122;&#x71;...  (numeric character references)
    JSON-escaped   \\u007a\\u0071...
    percent-coded  %7A%71...        (URLs, Location and Set-Cookie headers)
    base64(url)    ...enE0ay...     (at each of the 3 alignments; tokens, JWT segments)
    hex            7a71346b...      (either case)

Speed matters because the oracle reads every byte of every response (media included) for every
synthetic user, inside every remote load worker. `bench` measures the alternatives side by side
(`oracle_alternatives` in bench.json); Hyperscan won because of two flags:

* Every canary is a case-insensitive literal (`HS_FLAG_CASELESS`), so raw bytes are matched in
  place: no lower-cased copy, no text view, no slicing.
* `HS_FLAG_SINGLEMATCH` reports each canary once per scan, its first occurrence. A listing of
  the observer's own data repeats their few canaries thousands of times; an automaton reports
  every repeat to Python, Hyperscan only the first. So Python runs once per distinct canary
  present, never once per byte or per occurrence. The observer's own canaries are still
  found like any other; `scan(skip_owner=...)` only leaves them out of the hits it builds,
  so the oracle spends nothing more on the ten or so of them in every listing (dropping
  them earlier, in the match callback, is bench's `hyperscan+skip-own`: within noise).

Escaped views are decoded only near an escape that could spell a canary character (`&#122;`,
not Jinja's `&#39;`). The database also holds those escape markers (single-match too): a body
without one costs nothing more, and one with any gets every escape located by literal-prefixed
regexes (C speed) and decoded in windows around them.

Base64, base64url and hex are never decoded: each canary's encoded literals
(`harness.encoded`) sit in the same database, case-sensitive where the encoding is, so a body
with no encoded canary costs what it always did. A hit says which spelling found it
(`Hit.encoding`: "" for the raw value, else `base64`, `base64url`, `jwt`, `hex` or the escapes
that were decoded).
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple
from urllib.parse import unquote

import hyperscan

from harness.encoded import base64_kind, base64_runs, case_variants, hex_literal
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
_EXACT = hyperscan.HS_FLAG_SINGLEMATCH  # base64 tells cases apart
_MIN_ENCODED = 16  # shortest encoded literal kept: ~64 bits, never matched by chance
_BASE64 = "base64"  # the spelling tag of a base64 literal; its kind is named at the hit
_ESCAPE_NAMES = ((b"&#", "html-entity"), (b"\\u", "json-escape"), (b"%", "percent"))
_START = itemgetter(1)  # Hit.start


class Hit(NamedTuple):
    """One canary found. `start` is its byte offset (approximate inside an escaped region,
    the start of the encoded run for an encoded spelling). `encoding` is "" for the value as
    planted, else how it was spelled: `base64`, `base64url`, `jwt`, `hex`, `html-entity` ...

    A tuple, not a frozen dataclass: every scan of a listing builds one per distinct canary
    in it (mostly the observer's own), and ten of them took 8 us as frozen dataclasses, 5 us
    as tuples, against ~20 us of Python per scan in all."""

    canary: Canary
    start: int
    encoding: str = ""


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
        self._ascii = all(0x30 <= ord(ch) <= 0x7F for ch in "".join(self._by_value))
        self._escapes: Escapes = _ASCII_ESCAPES if self._ascii else _ANY_ESCAPES
        markers = _ASCII_MARKERS if self._ascii else _ANY_MARKERS
        # Pattern id -> (canary value, or "" for an escape marker; its length; its encoding).
        patterns = _patterns(self._by_value, markers)
        self._patterns = tuple((p.value, len(p.spelling), p.encoding) for p in patterns)
        self._database = _compile(patterns) if self._by_value else None
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self.canaries)

    def scan(self, data: bytes, *, unescape: bool = True, skip_owner: str = "") -> list[Hit]:
        """Every canary in `data`, once each, in order of first appearance.

        `unescape=False` skips the escaped views: right for media bytes, which nothing decodes.
        `skip_owner`'s canaries are left out (the observer's own, which are never a leak).
        """
        if self._database is None:
            return []
        found: dict[str, tuple[int, str]] = {}  # lower-cased value -> (first start, encoding)
        escaped = self._scan(data, 0, found, "")
        if unescape and escaped:
            for begin, end in escaped_windows(data, self._escapes, self.max_length):
                window = data[begin:end]
                text = _unescape(window.decode("latin-1"))
                # Caseless matching covers ASCII; other canaries need the lower-cased view.
                text = text if self._ascii else text.lower()
                # surrogatepass: a JSON "\ud83d" decodes to a lone surrogate
                view = text.encode("utf-8", "surrogatepass")
                self._scan(view, begin, found, _escape_names(window))
        hits = [
            Hit(c, start, encoding)
            for value, (start, encoding) in found.items()
            for c in self._by_value[value]
            if c.owner != skip_owner
        ]
        if len(hits) > 1:
            hits.sort(key=_START)
        return hits

    def _scan(
        self, data: bytes, offset: int, found: dict[str, tuple[int, str]], escapes: str
    ) -> bool:
        """Record each canary's first start and spelling in `found` (`escapes` names the
        escapes decoded into `data`, "" for raw bytes); was any escape marker seen?"""
        patterns = self._patterns
        marked = False

        def on_match(pattern: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            nonlocal marked
            value, length, encoding = patterns[pattern]
            if not value:
                marked = True
            elif value not in found:
                start = to - length
                if encoding == _BASE64:
                    encoding = base64_kind(data, start, to)
                found[value] = (offset + start, encoding or escapes)

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


@dataclass(frozen=True, slots=True)
class _Pattern:
    value: str  # the canary's lower-cased value, "" for an escape marker
    spelling: bytes  # what Hyperscan looks for
    encoding: str = ""  # "" (the value itself), "base64" or "hex"
    flags: int = _FLAGS


def _patterns(by_value: dict[str, tuple[Canary, ...]], markers: tuple[str, ...]) -> list[_Pattern]:
    """Every spelling of every canary, then the escape markers, in pattern-id order."""
    patterns = [
        pattern
        for value, canaries in by_value.items()
        for pattern in _spellings(value, {c.value for c in canaries})
    ]
    return patterns + [_Pattern("", marker.encode()) for marker in markers]


def _spellings(value: str, planted: set[str]) -> list[_Pattern]:
    """UTF-8 (what a target sends) and, where it exists, latin-1 (one byte per character, as
    raw bytes were always read); then the base64 runs (case-sensitive) and hex (caseless) of
    each case a target may encode."""
    raw = [value.encode("utf-8")]
    with contextlib.suppress(UnicodeEncodeError):
        if (latin := value.encode("latin-1")) != raw[0]:
            raw.append(latin)
    patterns = [_Pattern(value, spelling) for spelling in raw]
    encoded = dict.fromkeys((*case_variants(value), *sorted(planted)))
    for variant in (v.encode("utf-8") for v in encoded):
        patterns += [_Pattern(value, run, _BASE64, _EXACT) for run in base64_runs(variant)]
    hexes = dict.fromkeys(hex_literal(v.encode("utf-8")).lower() for v in encoded)
    # A hex literal shorter than a base64 run would match digests and ids by chance.
    patterns += [_Pattern(value, h, "hex") for h in hexes if len(h) >= _MIN_ENCODED]
    return _unique(patterns)


def _unique(patterns: list[_Pattern]) -> list[_Pattern]:
    """One pattern per (spelling, flags): base64 and base64url agree on most runs."""
    return list({(p.spelling, p.flags): p for p in patterns}.values())


def _compile(patterns: list[_Pattern]) -> hyperscan.Database:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[p.spelling for p in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[p.flags for p in patterns],
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


def _escape_names(window: bytes) -> str:
    """Which escapes a decoded window held, for the finding: "json-escape+percent"."""
    return "+".join(name for lead, name in _ESCAPE_NAMES if lead in window) or "escaped"


def _json_char(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code, 16)) if code is not None else "/"
