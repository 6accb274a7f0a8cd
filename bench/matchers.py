"""The matchers `oracle_bench` measures side by side with production's `harness.matcher`.

Each has `scan(data, *, unescape=True, skip_owner=None) -> list[Hit]` with production's
semantics: the Judge passes the observer as `skip_owner`, whose canaries are left out of the
answer; the skip-own variants instead skip them while scanning (a value another owner shares
is never skipped, and both its canaries are reported). They live here, not in the harness,
so that the figures in bench.json stay reproducible after a winner replaced the others.

  pyahocorasick           the matcher before Hyperscan: pyahocorasick over a latin-1 view, a
                          2-character prefix prefilter, 256 KB slices
  pyahocorasick+skip-own  the same, but a candidate where one of the observer's own canaries
                          starts is no candidate: a listing of their own data stops being
                          "dense" and only the foreign candidates (usually none) are walked
  ahocorasick-rs          the Rust aho-corasick crate (DFA) over a lower-cased copy
  hyperscan+skip-own      production, with the observer's own canaries dropped in the match
                          callback before any Python-level work
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick

from harness.matcher import (
    _ANY_ESCAPES,
    _ANY_MARKERS,
    _ASCII_ESCAPES,
    _ASCII_MARKERS,
    CanaryMatcher,
    Hit,
    _merge,
    _patterns,
    _unescape,
    escaped_windows,
)
from harness.models import Canary

_PREFIX = 2
_MAX_PREFIXES = 4  # one find() pass over the bytes per prefix
# Candidates closer than this share one walk; a body denser than one per this many bytes is
# walked whole. Per window, Python overhead costs about as much as walking this many bytes.
_DENSE = 512
_SLICE = 1 << 18
_MAX_ESCAPE = 10
_LONGEST_MARKER = max(map(len, _ASCII_MARKERS + _ANY_MARKERS))


class AutomatonMatcher:
    """The production matcher until Hyperscan replaced it (pyahocorasick), unchanged."""

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

    def scan(
        self, data: bytes, *, unescape: bool = True, skip_owner: str | None = None
    ) -> list[Hit]:
        """Every canary in `data`, once each, in order of first appearance.

        `unescape=False` skips the escaped views: right for media bytes, which nothing decodes.
        `skip_owner`'s canaries are left out of the answer, as production leaves them out.
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
        hits = [
            Hit(c, start)
            for value, start in found.items()
            for c in self._by_value[value]
            if c.owner != skip_owner
        ]
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


# -- skip the observer's own canaries -----------------------------------------------------------


def owned_values(canaries: Iterable[Canary]) -> dict[str, frozenset[str]]:
    """Owner -> the lower-cased values only they own. A value some other owner shares is never
    skipped: it may be that owner's datum. Canaries seen through a relation (a clinician's
    patients) are not owned, so they are matched as ever."""
    owners: dict[str, set[str]] = {}
    for canary in canaries:
        owners.setdefault(canary.value.lower(), set()).add(canary.owner)
    by_owner: dict[str, set[str]] = {}
    for value, who in owners.items():
        if len(who) == 1:
            by_owner.setdefault(next(iter(who)), set()).add(value)
    return {owner: frozenset(values) for owner, values in by_owner.items()}


class AutomatonSkipOwn(AutomatonMatcher):
    """pyahocorasick, walking only around candidates that are not the observer's own canary."""

    def __init__(self, canaries: Iterable[Canary]) -> None:
        super().__init__(canaries)
        self._owned = {
            owner: frozenset(v.encode() for v in values)
            for owner, values in owned_values(self.canaries).items()
        }
        # Only when every value has one length can no other value start where an own one does.
        self._can_skip = self._needles is not None and len({len(v) for v in self._by_value}) == 1
        self._skip: frozenset[bytes] = frozenset()

    def scan(
        self, data: bytes, *, unescape: bool = True, skip_owner: str | None = None
    ) -> list[Hit]:
        self._skip = (
            self._owned.get(skip_owner or "", frozenset()) if self._can_skip else frozenset()
        )
        try:
            return super().scan(data, unescape=unescape)
        finally:
            self._skip = frozenset()

    def _raw_spans(self, data: bytes) -> tuple[bytes, bool, list[tuple[int, int]]]:
        if not self._skip:
            return super()._raw_spans(data)
        assert self._needles is not None
        lowered = any(ch in data for ch in self._upper)
        view = data.lower() if lowered else data
        starts: list[int] = []
        limit = len(data) // _DENSE + 1
        for needle in (n.encode("latin-1") for n in self._needles):
            for at in _find_all(view, needle):
                if view[at : at + self.max_length] in self._skip:
                    continue
                starts.append(at)
                if len(starts) > limit:
                    return view, lowered, [(0, len(data))]
        starts.sort()
        return view, lowered, list(_merge(starts, self.max_length, gap=_DENSE))


class HyperscanSkipOwn(CanaryMatcher):
    """Production, dropping the observer's own canaries in the match callback."""

    def __init__(self, canaries: Iterable[Canary]) -> None:
        super().__init__(canaries)
        self._owned = owned_values(self.canaries)
        self._skip: frozenset[str] = frozenset()

    def scan(
        self, data: bytes, *, unescape: bool = True, skip_owner: str | None = None
    ) -> list[Hit]:
        self._skip = self._owned.get(skip_owner or "", frozenset())
        try:
            return super().scan(data, unescape=unescape)
        finally:
            self._skip = frozenset()

    def _scan(
        self, data: bytes, offset: int, found: dict[str, tuple[int, str]], escapes: str
    ) -> bool:
        patterns, skip = self._patterns, self._skip
        marked = False

        def on_match(pattern: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            nonlocal marked
            value, length, encoding = patterns[pattern]
            if not value:
                marked = True
            elif value not in found and value not in skip:
                found[value] = (offset + to - length, encoding or escapes)

        assert self._database is not None
        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return marked


# -- ahocorasick-rs ------------------------------------------------------------------------------


class RustMatcher:
    """The Rust aho-corasick crate (ahocorasick-rs) over a lower-cased copy of the bytes. It
    reports every occurrence (no single-match mode), so Python sees each repeat."""

    def __init__(self, canaries: Iterable[Canary]) -> None:
        import ahocorasick_rs

        self.canaries = tuple(canaries)
        self._by_value: dict[str, tuple[Canary, ...]] = {}
        for canary in self.canaries:
            if key := canary.value.lower():
                self._by_value[key] = (*self._by_value.get(key, ()), canary)
        self.max_length = max((len(v) for v in self._by_value), default=0)
        ascii_only = all(0x30 <= ord(ch) <= 0x7F for ch in "".join(self._by_value))
        self._escapes = _ASCII_ESCAPES if ascii_only else _ANY_ESCAPES
        # Only the raw spellings and escape markers: an automaton over a lower-cased copy
        # cannot tell base64's cases apart, so encoded spellings are production's alone.
        patterns = [
            p
            for p in _patterns(self._by_value, _ASCII_MARKERS if ascii_only else _ANY_MARKERS)
            if not p.encoding
        ]
        self._patterns = tuple(p.value for p in patterns)
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            [p.spelling.lower() for p in patterns],
            implementation=ahocorasick_rs.Implementation.DFA,
        )

    def scan(
        self, data: bytes, *, unescape: bool = True, skip_owner: str | None = None
    ) -> list[Hit]:
        if not self._by_value:
            return []
        found: dict[str, int] = {}
        escaped = self._scan(data, 0, found)
        if unescape and escaped:
            for begin, end in escaped_windows(data, self._escapes, self.max_length):
                text = _unescape(data[begin:end].decode("latin-1")).lower()
                self._scan(text.encode("utf-8", "surrogatepass"), begin, found)
        hits = [
            Hit(c, start)
            for value, start in found.items()
            for c in self._by_value[value]
            if c.owner != skip_owner
        ]
        hits.sort(key=lambda hit: hit.start)
        return hits

    def _scan(self, data: bytes, offset: int, found: dict[str, int]) -> bool:
        marked = False
        patterns = self._patterns
        for pattern, start, _ in self._automaton.find_matches_as_indexes(
            data.lower(), overlapping=True
        ):
            value = patterns[pattern]
            if not value:
                marked = True
            elif value not in found:
                found[value] = offset + start
        return marked
