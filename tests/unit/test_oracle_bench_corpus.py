"""The oracle bench's encoded corpus, proven both ways: each planted encoded leak is found once,
named by its encoding, and each encoding is silent when what it holds is the observer's own or
a visible owner's data, over many canary draws (Hypothesis). The bench's speed figure counts
only if its corpus is found exactly, so the same check runs here on a small world."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.encoded_corpus import (
    LEAKS,
    PDF_PLACES,
    encoded_observations,
    leak_observation,
    pdf_document,
)
from bench.oracle_bench import observation
from harness.canaries import make_canary
from harness.models import Canary, CanaryKind, Finding
from harness.oracles import Judge
from harness.world import World
from tests.worlds import make_world

KINDS = (CanaryKind.NAME, CanaryKind.NOTE, CanaryKind.NHS_NUMBER, CanaryKind.REASON)
FIRST_OWNER = 30  # owners of the encoded leaks: p30 ... (observers are p0 ...)
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def world(seed: int, patients: int = 4) -> World:
    """Each patient owns one canary of each kind; c1 is p2's clinician."""
    rng = random.Random(seed)
    canaries = [
        Canary(make_canary(rng), f"p{n}", kind, "bench") for n in range(patients) for kind in KINDS
    ]
    return make_world([f"p{n}" for n in range(patients)], {"c1": ["p2"]}, canaries)


def found(judge: Judge, obs_list: list) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return sorted(
        (f.owner or "", str(f.canary_kind), dict(f.extra).get("encoding", ""))
        for o in obs_list
        for f in judge(o)
    )


def leaks(w: World, obs: object) -> list[Finding]:
    return Judge.from_world(w, names=["canary-leak"], plugins=False)(obs)  # type: ignore[arg-type]


def test_the_bench_corpus_is_found_exactly() -> None:
    w = world(20200601, patients=FIRST_OWNER + len(LEAKS) + len(PDF_PLACES))
    observations, planted = encoded_observations(w, observation, FIRST_OWNER)
    assert len(planted) == len(LEAKS) + len(PDF_PLACES)
    judge = Judge.from_world(w, names=["canary-leak"], plugins=False)
    assert found(judge, observations) == sorted(planted)


@pytest.mark.parametrize("name", list(LEAKS))
@SETTINGS
@given(seed=st.integers(0, 2**32), kind=st.sampled_from(KINDS))
def test_each_encoding_finds_its_leak_and_nothing_else(name: str, seed: int, kind: str) -> None:
    w = world(seed)
    mine = {c.kind: c for c in w.ownership.for_owner("p0")}
    theirs = {c.kind: c for c in w.ownership.for_owner("p1")}
    own, foreign = mine[CanaryKind.NAME], theirs[kind]
    findings = leaks(w, leak_observation(name, "p0", own, foreign, observation))
    assert [(f.owner, f.canary_kind, dict(f.extra).get("encoding")) for f in findings] == [
        ("p1", kind, LEAKS[name][1])
    ]
    # The same encoding holding only the observer's own data is silent ...
    assert leaks(w, leak_observation(name, "p0", own, mine[kind], observation)) == []
    # ... and so is it holding the data of a patient the observer cares for.
    cared = {c.kind: c for c in w.ownership.for_owner("p2")}
    assert (
        leaks(w, leak_observation(name, "c1", cared[CanaryKind.NAME], cared[kind], observation))
        == []
    )


@pytest.mark.parametrize("place", list(PDF_PLACES))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_each_pdf_place_finds_its_leak_and_nothing_else(place: str, seed: int) -> None:
    w = world(seed)
    own = w.ownership.for_owner("p0")[0]
    foreign = w.ownership.for_owner("p1")[1]
    leaked = observation("p0", pdf_document(own, **{place: foreign}), "application/pdf")
    findings = leaks(w, leaked)
    assert [(f.owner, dict(f.extra).get("encoding", "")) for f in findings] == [
        ("p1", PDF_PLACES[place])
    ]
    mine = w.ownership.for_owner("p0")[1]
    clean = observation("p0", pdf_document(own, **{place: mine}), "application/pdf")
    assert leaks(w, clean) == []
