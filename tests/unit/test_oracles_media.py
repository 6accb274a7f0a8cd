"""Range reassembly: a canary cut by a Range boundary is found once, from edge windows only."""

from __future__ import annotations

import random

from harness.canaries import make_canary
from harness.matcher import CanaryMatcher
from harness.media import RangeAssembler, resource_key
from harness.models import Canary, CanaryKind

CANARY = Canary(make_canary(random.Random(5)), "p1", CanaryKind.MEDIA)
MATCHER = CanaryMatcher([CANARY])
EDGE = len(CANARY.value) - 1


def media_with_canary_at(at: int, size: int = 4000) -> bytes:
    data = bytearray(random.Random(1).randbytes(size))
    data[at : at + len(CANARY.value)] = CANARY.value.encode()
    return bytes(data)


def straddling_hits(
    assembler: RangeAssembler, key: tuple[str, str], first: int, body: bytes
) -> int:
    count = 0
    for seam in assembler.add(key, first, body):
        for hit in MATCHER.scan(seam.data, unescape=False):
            count += seam.straddles(hit.start, len(hit.canary.value))
    return count


def test_canary_split_across_two_chunks_is_found_in_the_seam() -> None:
    media = media_with_canary_at(995)
    key = resource_key("p2", "/api/recordings/1/media?token=abc")
    assembler = RangeAssembler(EDGE)
    assert MATCHER.scan(media[:1000]) == [] and MATCHER.scan(media[1000:]) == []
    assert straddling_hits(assembler, key, 0, media[:1000]) == 0
    assert straddling_hits(assembler, key, 1000, media[1000:]) == 1


def test_chunks_arriving_backwards_and_overlapping() -> None:
    media = media_with_canary_at(1996)
    assembler, key = RangeAssembler(EDGE), ("p2", "/m")
    assert straddling_hits(assembler, key, 2000, media[2000:]) == 0
    assert straddling_hits(assembler, key, 1500, media[1500:2003]) == 1


def test_tiny_chunks_stitch_across_several_windows() -> None:
    media = media_with_canary_at(100, size=300)
    assembler, key = RangeAssembler(EDGE), ("p2", "/m")
    found = sum(straddling_hits(assembler, key, at, media[at : at + 5]) for at in range(0, 300, 5))
    assert found == 1


def test_token_query_does_not_split_the_resource_but_observers_do() -> None:
    assert resource_key("p2", "/m?token=a") == resource_key("p2", "/m?token=b")
    assert resource_key("p2", "/m") != resource_key("p3", "/m")


def test_memory_is_bounded_to_edge_windows() -> None:
    assembler = RangeAssembler(EDGE, max_windows=8, max_resources=4)
    for n in range(10):
        for at in range(0, 100_000, 10_000):
            assembler.add(("p2", f"/m{n}"), at, bytes(10_000))
    assert len(assembler) == 4
    kept = sum(len(d) for windows in assembler._windows.values() for _, d in windows)
    assert kept <= 4 * 8 * EDGE
