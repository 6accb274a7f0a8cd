"""The canary matcher: every spelling of a canary is found, nothing else is."""

from __future__ import annotations

import json
import random
import threading
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.canaries import make_canary
from harness.matcher import CanaryMatcher, Hit
from harness.models import Canary, CanaryKind

RNG = random.Random(7)
CANARIES = [Canary(make_canary(RNG), f"p{i % 7}", CanaryKind.NOTE) for i in range(50)]
MATCHER = CanaryMatcher(CANARIES)
C = CANARIES[3]


def values(hits: list[Hit]) -> list[str]:
    return [h.canary.value for h in hits]


def html_escape_all(text: str, hexa: bool = False) -> str:
    return "".join(f"&#x{ord(ch):x};" if hexa else f"&#{ord(ch)};" for ch in text)


def test_raw_canary_found_with_its_offset() -> None:
    data = b'{"notes": "Ada ' + C.value.encode() + b' Lovelace"}'
    assert MATCHER.scan(data) == [Hit(C, data.index(C.value.encode()))]


def test_upper_and_mixed_case() -> None:
    shouted = C.value.upper().encode()
    mixed = (C.value[:5].upper() + C.value[5:]).encode()
    assert values(MATCHER.scan(b"<h1>" + shouted + b"</h1>")) == [C.value]
    assert values(MATCHER.scan(b"x" + mixed + b"x")) == [C.value]


@pytest.mark.parametrize("hexa", [False, True])
def test_html_numeric_entities(hexa: bool) -> None:
    page = f"<p>{html_escape_all(C.value, hexa)}</p>".encode()
    assert C.value.encode() not in page
    assert values(MATCHER.scan(page)) == [C.value]


def test_partly_escaped_and_upper_hex_entities() -> None:
    page = f"<p>&#X5A;{C.value[1:3]}&#0{ord(C.value[3])};{C.value[4:]}</p>".encode()
    assert values(MATCHER.scan(page)) == [C.value]


def test_json_unicode_escapes() -> None:
    body = json.dumps({"n": "".join(f"\\u{ord(ch):04x}" for ch in C.value)}).encode()
    body = body.replace(b"\\\\", b"\\")  # json.dumps escaped our backslashes; undo once
    assert C.value.encode() not in body
    assert values(MATCHER.scan(body)) == [C.value]


def test_json_escaped_slashes_around_percent_encoded_url() -> None:
    body = b'{"url": "\\/api\\/search?q=' + quote(C.value, safe="").encode() + b'"}'
    encoded = "".join(f"%{ord(ch):02X}" for ch in C.value).encode()
    assert values(MATCHER.scan(body)) == [C.value]
    assert values(MATCHER.scan(b"Location: /x?q=" + encoded)) == [C.value]


def test_escapes_are_ignored_when_asked() -> None:
    page = html_escape_all(C.value).encode()
    assert MATCHER.scan(page, unescape=False) == []


def test_unrelated_escapes_give_nothing() -> None:
    page = b"<p>O&#39;Brien &amp; 50% off \\u00e9 %2F</p>" * 100
    assert MATCHER.scan(page) == []


def test_hits_are_deduplicated_per_canary() -> None:
    other = CANARIES[9]
    data = (C.value + " " + C.value.upper() + " " + other.value + " " + C.value).encode()
    assert sorted(values(MATCHER.scan(data))) == sorted([C.value, other.value])


def test_no_canaries_and_empty_data() -> None:
    assert CanaryMatcher([]).scan(b"zq0123456789") == []
    assert MATCHER.scan(b"") == []


def test_prefix_fallback_matches_arbitrary_canaries() -> None:
    # Many distinct prefixes switch off the prefilter; the full automaton must still match.
    rng = random.Random(3)
    mixed = [Canary(f"{rng.randrange(10**9):09d}x{i}", "p1", CanaryKind.NAME) for i in range(40)]
    matcher = CanaryMatcher(mixed)
    data = (
        b"..." + mixed[5].value.upper().encode() + b"..." + html_escape_all(mixed[7].value).encode()
    )
    assert sorted(values(matcher.scan(data))) == sorted([mixed[5].value, mixed[7].value])


def test_ten_thousand_canaries_exactly_the_planted_ones() -> None:
    rng = random.Random(11)
    canaries = [Canary(make_canary(rng), f"p{i % 100}", CanaryKind.NAME) for i in range(10_000)]
    matcher = CanaryMatcher(canaries)
    planted = rng.sample(canaries, 60)
    noise = bytearray(rng.randbytes(2_000_000))
    for canary in planted:
        at = rng.randrange(len(noise) - 20)
        noise[at : at + 12] = canary.value.encode()
    found = {h.canary for h in matcher.scan(bytes(noise))}
    # Random noise may itself contain a canary only with negligible probability (36^-10).
    assert found == set(planted)


DENSE_ROW = b'{"name": "' + CANARIES[0].value.encode() + b'"},'


def test_escaped_canaries_inside_a_dense_listing() -> None:
    escaped = html_escape_all(C.value) + "".join(f"%{ord(ch):02X}" for ch in CANARIES[4].value)
    body = DENSE_ROW * 200 + escaped.encode() + DENSE_ROW * 200
    expected = {CANARIES[0].value, C.value, CANARIES[4].value}
    assert set(values(MATCHER.scan(body))) == expected


SPELLINGS = {
    "raw": lambda v: v,
    "upper": str.upper,
    "html": html_escape_all,
    "json": lambda v: "".join(f"\\u{ord(ch):04x}" for ch in v),
    "percent": lambda v: "".join(f"%{ord(ch):02x}" for ch in v),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    noise=st.binary(max_size=3000),
    picks=st.lists(st.tuples(st.integers(0, len(CANARIES) - 1), st.integers(0, 3000)), max_size=6),
    spelling=st.sampled_from(sorted(SPELLINGS)),
    dense=st.booleans(),
)
def test_planted_canaries_are_always_found(
    noise: bytes, picks: list[tuple[int, int]], spelling: str, dense: bool
) -> None:
    # `dense` prepends a listing of one canary, so the whole body is walked (escape markers
    # come from the automaton); otherwise only windows are (markers come from the regexes).
    listing = (DENSE_ROW * 40) if dense else b""
    data = bytearray(noise)
    # Insert from the back so that no insertion lands inside an earlier canary.
    spots = sorted(((i, min(pos, len(noise))) for i, pos in picks), key=lambda p: -p[1])
    for index, at in spots:
        data[at:at] = SPELLINGS[spelling](CANARIES[index].value).encode()
    found = set(values(MATCHER.scan(listing + bytes(data))))
    expected = {CANARIES[i].value for i, _ in picks} | ({CANARIES[0].value} if dense else set())
    assert found == expected


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000))
def test_random_bytes_without_canaries_give_no_hits(data: bytes) -> None:
    assert MATCHER.scan(data) == []


# The pre-Hyperscan matcher walked 256 KB slices; its boundaries are kept as the places to plant.
_SLICE = 1 << 18


def test_canaries_across_the_automaton_slice_boundaries() -> None:
    body = bytearray(DENSE_ROW * (3 * _SLICE // len(DENSE_ROW)))
    body[_SLICE - 5 : _SLICE + 7] = C.value.upper().encode()
    escaped = html_escape_all(CANARIES[4].value).encode()
    body[2 * _SLICE - 20 : 2 * _SLICE - 20 + len(escaped)] = escaped
    hits = {h.canary.value: h.start for h in MATCHER.scan(bytes(body))}
    assert hits[C.value] == _SLICE - 5
    assert CANARIES[4].value in hits


def test_hit_offsets_are_exact_and_the_first_occurrence() -> None:
    # The oracle quotes "at byte N" in its evidence: a repeated canary reports its first start,
    # however many times it repeats and whatever its case.
    other = CANARIES[9]
    data = DENSE_ROW * 50 + C.value.upper().encode() + DENSE_ROW * 50 + C.value.encode()
    data += other.value.encode()
    starts = {h.canary.value: h.start for h in MATCHER.scan(data)}
    assert starts == {
        CANARIES[0].value: data.index(CANARIES[0].value.encode()),
        C.value: len(DENSE_ROW) * 50,
        other.value: len(data) - len(other.value),
    }


def test_lone_surrogate_escapes_near_a_canary() -> None:
    # JSON may escape half an emoji; decoding it must not fail, nor hide the canary beside it.
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in C.value)
    body = ('{"n": "\\ud83d ' + escaped + ' \\ude00"}').encode()
    assert C.value.encode() not in body
    assert values(MATCHER.scan(body)) == [C.value]


def test_canaries_outside_ascii_in_utf8_and_latin1() -> None:
    accented = Canary("zqcafé0042", "p1", CanaryKind.NAME)
    matcher = CanaryMatcher([accented, C])
    for encoding in ("utf-8", "latin-1"):
        assert values(matcher.scan(f"<p>Chez {accented.value}</p>".encode(encoding))) == [
            accented.value
        ]
    entities = html_escape_all(accented.value).encode()
    assert values(matcher.scan(entities)) == [accented.value]
    assert matcher.scan("zqcafe0042 caf\u00e9".encode()) == []


def test_an_empty_canary_value_matches_nothing() -> None:
    matcher = CanaryMatcher([Canary("", "p1", CanaryKind.NAME), C])
    assert values(matcher.scan(b"anything " + C.value.encode())) == [C.value]
    assert CanaryMatcher([Canary("", "p1", CanaryKind.NAME)]).scan(b"anything") == []


def test_one_matcher_scans_from_many_threads_at_once() -> None:
    # The scan runs without the GIL; two threads sharing one scratch space would be refused.
    body = DENSE_ROW * 20_000 + html_escape_all(C.value).encode()
    expected = {CANARIES[0].value, C.value}
    results: list[set[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.extend(set(values(MATCHER.scan(body))) for _ in range(20))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected] * 80


@settings(max_examples=100, deadline=None)
@given(
    noise=st.binary(max_size=2000),
    picks=st.lists(
        st.tuples(st.integers(0, len(CANARIES) - 1), st.integers(0, 2000), st.booleans()),
        max_size=8,
    ),
)
def test_raw_scan_agrees_with_a_naive_search(
    noise: bytes, picks: list[tuple[int, int, bool]]
) -> None:
    # Canaries planted anywhere, even into each other, in either case: the matcher reports
    # exactly the values a plain case-insensitive search finds, at their first offsets.
    data = bytearray(noise)
    for index, at, shout in picks:
        value = CANARIES[index].value
        data[at:at] = (value.upper() if shout else value).encode()
    lowered = bytes(data).lower()
    expected = {
        c.value: lowered.find(c.value.encode()) for c in CANARIES if c.value.encode() in lowered
    }
    hits = MATCHER.scan(bytes(data), unescape=False)
    assert {h.canary.value: h.start for h in hits} == expected
    assert [h.start for h in hits] == sorted(h.start for h in hits)


# -- the alternatives `python -m bench` measures (bench.matchers) ------------------------------
# Their figures compare only if they match what production matches.

from bench import matchers as alternatives  # noqa: E402

ALTERNATIVES = [
    alternatives.AutomatonMatcher,
    alternatives.AutomatonSkipOwn,
    alternatives.RustMatcher,
    alternatives.HyperscanSkipOwn,
]
SKIP_OWN = [alternatives.AutomatonSkipOwn, alternatives.HyperscanSkipOwn]
OWN = [c for c in CANARIES if c.owner == "p0"]  # C (CANARIES[3]) belongs to p3
OWN_LISTING = b"".join(b'{"name": "' + c.value.encode() + b'"},' for c in OWN) * 100


@pytest.mark.parametrize("backend", ALTERNATIVES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_alternatives_find_every_spelling_in_a_dense_listing(backend, spelling: str) -> None:
    matcher = backend(CANARIES)
    body = OWN_LISTING + SPELLINGS[spelling](C.value).encode() + OWN_LISTING
    assert set(values(matcher.scan(body))) == {c.value for c in OWN} | {C.value}
    # Offsets included; only production names the spelling (`Hit.encoding`).
    assert located(matcher.scan(body)) == located(MATCHER.scan(body))
    assert located(matcher.scan(body, unescape=False)) == located(
        MATCHER.scan(body, unescape=False)
    )


def located(hits: list[Hit]) -> list[tuple[Canary, int]]:
    return [(hit.canary, hit.start) for hit in hits]


@pytest.mark.parametrize("backend", SKIP_OWN, ids=lambda b: b.__name__)
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_skip_own_still_finds_a_foreign_canary_among_own_ones(backend, spelling: str) -> None:
    # Skipping is a shortcut, not a filter: an own canary near an escape may still be reported.
    matcher = backend(CANARIES)
    body = OWN_LISTING + SPELLINGS[spelling](C.value).encode() + OWN_LISTING
    found = set(values(matcher.scan(body, skip_owner="p0")))
    assert found - {c.value for c in OWN} == {C.value}
    assert values(matcher.scan(OWN_LISTING, skip_owner="p0")) == []  # the skip did happen
    assert len(matcher.scan(OWN_LISTING)) == len(OWN)  # and only for that observer


@pytest.mark.parametrize("backend", SKIP_OWN, ids=lambda b: b.__name__)
def test_skip_own_still_matches_related_and_shared_canaries(backend) -> None:
    # p1's data seen by a clinician assigned to p1 is not the clinician's own: it is matched
    # (the oracle decides, by time, whether that clinician may see it). A value two owners share
    # may be the other owner's datum, so it is never skipped.
    shared = Canary(OWN[0].value, "p5", CanaryKind.NOTE)
    matcher = backend([*CANARIES, shared])
    related = [c for c in CANARIES if c.owner == "p1"]
    listing = b" ".join(c.value.encode() for c in related) * 50
    assert set(values(matcher.scan(listing, skip_owner="c1"))) == {c.value for c in related}
    hits = {(h.canary.value, h.canary.owner) for h in matcher.scan(OWN_LISTING, skip_owner="p0")}
    assert {(OWN[0].value, "p0"), (OWN[0].value, "p5")} <= hits
    assert {owner for _, owner in hits} <= {"p0", "p5"}


def test_production_leaves_only_the_skipped_owners_canaries_out_of_its_hits() -> None:
    # The Judge passes the observer: their own canaries are never a leak. A value another
    # owner shares stays in, as that owner's canary; every other owner's canary stays in.
    shared = Canary(OWN[0].value, "p5", CanaryKind.NOTE)
    matcher = CanaryMatcher([*CANARIES, shared])
    body = OWN_LISTING + b" " + C.value.encode()
    hits = {(h.canary.value, h.canary.owner) for h in matcher.scan(body, skip_owner="p0")}
    assert hits == {(OWN[0].value, "p5"), (C.value, C.owner)}
    assert {h.canary.owner for h in matcher.scan(body)} == {"p0", "p5", C.owner}
