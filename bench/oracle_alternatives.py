"""Every matcher backend side by side over the oracle bench's corpus: bench.json's
`oracle_alternatives`.

Each backend is measured bare (`scan` of every body) and inside the Judge (canary-leak on every
Observation, as `oracle_mb_per_s`), in interleaved rounds so that a neighbour's load on the
shared machine hits all of them alike; the best round counts. Ratios are to the pre-Hyperscan
matcher (`pyahocorasick`) in the same run, per CPU second (steadier) and wall clock.

A backend counts as correct only if, in the Judge, it finds exactly the planted leaks with the
same findings (evidence offsets included) as that matcher, and bare it finds every spelling of
a foreign canary in `spelling_cases`.

`chosen` is the backend production uses; `fastest_correct` is this run's raw pick, often
`hyperscan+skip-own`: a few percent ahead on a loaded machine, behind on a quiet one (see
harness.matcher for why production leaves own canaries out only when it builds its hits).
"""

from __future__ import annotations

import html
import random
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from bench import matchers
from harness.matcher import BACKEND, CanaryMatcher, Hit
from harness.media import RangeAssembler
from harness.models import Canary, CanaryKind, Finding, Observation
from harness.oracles import Judge, OracleContext
from harness.world import World

ROUNDS = 5
BASELINE = "pyahocorasick"

# name -> (factory, passes the observer as skip_owner, the PyPI packages it runs on)
BACKENDS: dict[str, tuple[Callable[[Iterable[Canary]], Any], bool, tuple[str, ...]]] = {
    "pyahocorasick": (matchers.AutomatonMatcher, False, ("pyahocorasick",)),
    "pyahocorasick+skip-own": (matchers.AutomatonSkipOwn, True, ("pyahocorasick",)),
    "ahocorasick-rs": (matchers.RustMatcher, False, ("ahocorasick-rs",)),
    "hyperscan": (CanaryMatcher, False, ("hyperscan",)),
    "hyperscan+skip-own": (matchers.HyperscanSkipOwn, True, ("hyperscan",)),
}


class ObserverBound:
    """Hands a skip-own matcher the observer of the observation being judged. Bench only: the
    production oracle has nothing to hand it."""

    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher
        self.max_length: int = matcher.max_length
        self.observer: str | None = None

    def scan(self, data: bytes, *, unescape: bool = True, skip_owner: str = "") -> list[Hit]:
        observer = self.observer or skip_owner
        hits: list[Hit] = self.matcher.scan(data, unescape=unescape, skip_owner=observer)
        return hits


class Runner:
    """One backend: its matcher, a Judge around it, and its best times so far."""

    def __init__(self, world: World, matcher: Any, skip_own: bool) -> None:
        self.matcher = matcher
        self.bound = ObserverBound(matcher) if skip_own else None
        scanner = self.bound or matcher
        self.judge = Judge(OracleContext(world=world, matcher=scanner), names=["canary-leak"])
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.findings: list[Finding] = []

    def round(self, observations: list[Observation]) -> None:
        self._time("matcher", lambda: self._scan_all(observations))
        self._time("oracle", lambda: self._judge_all(observations))

    def _scan_all(self, observations: list[Observation]) -> None:
        scanner = self.bound or self.matcher
        for o in observations:
            if self.bound is not None:
                self.bound.observer = o.actor
            scanner.scan(o.body, unescape=not is_media(o))

    def _judge_all(self, observations: list[Observation]) -> None:
        self.judge.ctx.ranges = RangeAssembler(edge=max(self.matcher.max_length - 1, 1))
        findings: list[Finding] = []
        per_kind: dict[str, float] = {}
        for o in observations:
            started = time.process_time()
            if self.bound is not None:
                self.bound.observer = o.actor
            findings += self.judge(o)
            kind = f"oracle:{content_kind(o)}"
            per_kind[kind] = per_kind.get(kind, 0.0) + time.process_time() - started
        self.findings = findings
        for kind, seconds in per_kind.items():
            self.cpu[kind] = min(self.cpu.get(kind, float("inf")), seconds)

    def _time(self, what: str, fn: Callable[[], None]) -> None:
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        self.wall[what] = min(self.wall.get(what, float("inf")), wall)
        self.cpu[what] = min(self.cpu.get(what, float("inf")), cpu)


def is_media(o: Observation) -> bool:
    return o.content_type == "application/octet-stream"


def content_kind(o: Observation) -> str:
    return o.content_type.split(";")[0]


def compare(
    world: World,
    observations: list[Observation],
    planted: set[tuple[str, CanaryKind]],
    cases: list[SpellingCase],
    rounds: int = ROUNDS,
) -> dict[str, Any]:
    """Every backend's figures and correctness, the chosen one and the fastest correct one."""
    runners: dict[str, Runner] = {}
    results: dict[str, dict[str, Any]] = {}
    for name, (factory, skip_own, packages) in BACKENDS.items():
        try:
            started = time.perf_counter()
            matcher = factory(world.ownership.canaries)
            build = time.perf_counter() - started
        except Exception as exc:  # a backend that does not install or run here is recorded
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        runners[name] = Runner(world, matcher, skip_own)
        results[name] = {"packages": _versions(packages), "build_s": round(build, 3)}
    for _ in range(rounds):
        for runner in runners.values():
            runner.round(observations)
    megabytes = {
        kind: _megabytes(observations, kind) for kind in {"", *map(content_kind, observations)}
    }
    baseline = runners.get(BASELINE)
    for name, runner in runners.items():
        results[name] |= _figures(runner, megabytes, baseline)
        results[name] |= _correctness(runner, planted, cases, baseline)
    correct = [n for n in runners if results[n]["correct"]]
    fastest = max(correct, key=lambda n: results[n]["oracle_mb_per_cpu_s"], default=None)
    return {
        "chosen": BACKEND,
        "fastest_correct": fastest,
        "baseline": BASELINE,
        "rounds": rounds,
        "backends": results,
    }


def _megabytes(observations: list[Observation], kind: str) -> float:
    return sum(len(o.body) for o in observations if not kind or content_kind(o) == kind) / 1e6


def _figures(
    runner: Runner, megabytes: dict[str, float], baseline: Runner | None
) -> dict[str, Any]:
    total = megabytes[""]
    figures: dict[str, Any] = {}
    for what in ("matcher", "oracle"):
        figures[f"{what}_mb_per_s"] = round(total / runner.wall[what], 1)
        figures[f"{what}_mb_per_cpu_s"] = round(total / runner.cpu[what], 1)
        if baseline is not None:
            figures[f"{what}_ratio_cpu"] = round(baseline.cpu[what] / runner.cpu[what], 2)
            figures[f"{what}_ratio_wall"] = round(baseline.wall[what] / runner.wall[what], 2)
    figures["oracle_mb_per_cpu_s_by_kind"] = {
        kind: round(mb / runner.cpu[f"oracle:{kind}"], 1) for kind, mb in megabytes.items() if kind
    }
    return figures


def _correctness(
    runner: Runner,
    planted: set[tuple[str, CanaryKind]],
    cases: list[SpellingCase],
    baseline: Runner | None,
) -> dict[str, Any]:
    leaks = {(f.owner or "", f.canary_kind or CanaryKind.NAME) for f in runner.findings}
    same = baseline is not None and runner.findings == baseline.findings
    missed = [case.name for case in cases if not case.holds(runner.matcher, runner.bound)]
    exact = leaks == planted
    return {
        "leaks_found_exactly": exact,
        "same_findings_as_baseline": same,
        "spellings_missed": missed,
        "correct": exact and same and not missed,
    }


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    return {p: metadata.version(p) for p in packages}


# -- spellings: the corpus plants raw canaries only ----------------------------------------------


class SpellingCase:
    """One body an observer received, and the canaries it holds that the observer does not
    own (what any backend must report, with or without skipping the observer's own)."""

    def __init__(
        self, name: str, observer: str, body: bytes, foreign: set[str], *, unescape: bool = True
    ) -> None:
        self.name, self.observer, self.body = name, observer, body
        self.foreign, self.unescape = foreign, unescape

    def holds(self, matcher: Any, bound: ObserverBound | None) -> bool:
        if bound is not None:
            bound.observer = self.observer
        hits: list[Hit] = (bound or matcher).scan(self.body, unescape=self.unescape)
        found = {h.canary.value for h in hits if h.canary.owner != self.observer}
        return found == self.foreign


def spelling_cases(
    world: World, rng: random.Random, listing: Callable[[random.Random, list[str], int], bytes]
) -> list[SpellingCase]:
    """Every spelling the matcher decodes, planted in a listing of the observer's own data."""
    foreign = [c.value for c in world.ownership.for_owner("p950")]
    own = listing(rng, _values(world, "p1"), 600)
    spelled = {
        "raw": foreign[0],
        "upper": foreign[1].upper(),
        "html-decimal": "".join(f"&#{ord(ch)};" for ch in foreign[2]),
        "html-hex": "".join(f"&#X{ord(ch):x};" for ch in foreign[3]),
        "json-u": "".join(f"\\u{ord(ch):04x}" for ch in foreign[4]),
        "percent": "".join(f"%{ord(ch):02X}" for ch in foreign[5]),
        "html-escaped-names": html.escape(f"O'Brien & {foreign[6]}"),
    }
    cases = [
        SpellingCase(name, "p1", own[:5000] + text.encode() + own[5000:], {foreign[i]})
        for i, (name, text) in enumerate(spelled.items())
    ]
    big = own * (600_000 // len(own) + 1)
    at = (1 << 18) - 5  # across the old matcher's 256 KB slice boundary
    cases.append(
        SpellingCase(
            "deep-upper", "p1", big[:at] + foreign[7].upper().encode() + big[at:], {foreign[7]}
        )
    )
    own_one = _values(world, "p1")[0]
    cases.append(  # an own canary running straight into a foreign one
        SpellingCase(
            "adjacent", "p1", own[:100] + (own_one + foreign[8]).encode() + own[100:], {foreign[8]}
        )
    )
    # A clinician's assigned patient (p3) is related, not owned: still matched and reported.
    related = listing(rng, _values(world, "p3") + _values(world, "p0"), 600)
    present = {v for v in _values(world, "p3") + _values(world, "p0") if v.encode() in related}
    cases.append(SpellingCase("related-owner", "c0", related, present))
    media = rng.randbytes(1 << 20)
    escaped = "".join(f"&#{ord(ch)};" for ch in foreign[9]).encode()
    media = media[:1000] + foreign[8].encode() + media[2000:3000] + escaped + media[4000:]
    cases.append(SpellingCase("media", "p1", media, {foreign[8]}, unescape=False))
    return cases


def _values(world: World, owner: str) -> list[str]:
    return [c.value for c in world.ownership.for_owner(owner)]
