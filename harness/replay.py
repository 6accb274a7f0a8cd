"""Replays one finding's reproduction against a target and says whether it still reproduces.

The run directory holds what is needed to rebuild the same synthetic population: `world.json`
(the seed, and the target profile the run used) and `options.json` (how many users). The steps
are run in order, one at a time; `look` steps have the observer read everything they can reach.
Access-matrix findings (`request` / `replay` steps) are rebuilt generically: the owner's first
applicable scenario is driven, the owner looks, and the observer repeats the owner's reads.

A finding reproduces only if the replay raises one with its exact identity: the same kind,
observer, owner and surface (which names the route). A different leak between the same two
users is not the same bug. Findings that needed concurrency may not reproduce sequentially; the
outcome says so rather than pretending. Flows are replayed in the order the harness saw them
complete in the run (the switch suite records them so); when that does not bring the finding
back, each flow of a phase that ran at once takes a turn at the end of its phase (the order the
harness saw answers in is not always the order the target applied the flows in). An access
finding that rests on a relation changed earlier in the run (a clinician reading a discharged
patient's recording) is replayed on a freshly seeded world where the relation still holds, so it
does not reproduce there.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.adapters import Session, Target
from harness.aio import LoopThread
from harness.bounded import read_bounded
from harness.config import RunOptions
from harness.errors import ConfigError, UsageError
from harness.models import Finding, Observation, Step
from harness.oracles import Judge
from harness.population import Counts, make_population
from harness.world import World

STATEFUL_COUNTS = Counts(owners=2, observers=1, per_owner=1, heavy=0)  # scenarios.stateful's
_SKIP = ("look", "request", "replay", "pause")


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    reproduced: bool
    steps: int
    findings: tuple[Finding, ...]  # what the replay saw that matches the original exactly
    note: str = ""


def population_for(finding: Finding, run_dir: Path) -> tuple[int, Counts]:
    """(seed, counts) the finding was seen with."""
    try:
        data = read_bounded(run_dir / "options.json", "run options")
        options = RunOptions.model_validate_json(data)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read {run_dir / 'options.json'} next to the report ({exc})",
            "replay needs the run directory that `chaperone run` wrote, not a copied report",
        ) from None
    seed = options.seed
    if "@seed=" in finding.suite:
        seed = int(finding.suite.split("@seed=", 1)[1])
    if finding.suite == "stateful":
        return seed, STATEFUL_COUNTS
    return seed, Counts(sizes=dict(options.population))


def pick_finding(
    findings: Sequence[Finding], key: str, causes: Mapping[str, Finding] | None = None
) -> Finding:
    """The finding `key` names: any id a run shows. A finding's key (report.json
    `findings[].key`), a cause's key (the `[3f2a9c01be]` of the run's summary, the HTML
    report and JUnit: `groups[].key`, which stands for the cause's shortest reproduction), a
    unique prefix of either, or a 1-based position in the report. Not found is one line with
    the nearest ids."""
    wanted = key.strip().strip("[]").lower()
    if wanted.isdigit() and 1 <= int(wanted) <= len(findings):
        return findings[int(wanted) - 1]
    ids: dict[str, Finding] = {f.key: f for f in findings} | dict(causes or {})
    if wanted in ids:
        return ids[wanted]
    matches = {ident: f for ident, f in ids.items() if ident.startswith(wanted)}
    chosen = {f.key for f in matches.values()}
    if wanted and len(chosen) == 1:
        return next(iter(matches.values()))
    if matches:
        problem = f"is a prefix of {len(matches)} ids ({', '.join(sorted(matches)[:6])})"
        hint = "give more of the id"
    else:
        close = difflib.get_close_matches(wanted, list(ids), n=5, cutoff=0.3)
        near = [i for i in ids if i[:2] == wanted[:2]][:5] if wanted else []
        shown = list(dict.fromkeys([*close, *near]))[:5]
        problem = "matches no finding or cause" + (
            f" (closest: {', '.join(shown)})" if shown else ""
        )
        hint = (
            "pass a finding key, a cause key as the run printed it, or a 1-based index "
            f"(1-{len(findings)})"
        )
    raise UsageError(f"--finding '{key}' {problem} in the report", hint)


class Replayer:
    def __init__(self, adapter: Target, loop: LoopThread, world: World) -> None:
        self.adapter = adapter
        self.loop = loop
        self.world = world
        self.judge = Judge.from_world(world, listing=adapter.listing)
        self.sessions: dict[str, Session] = {}
        self.seen: list[Finding] = []

    def session(self, actor: str) -> Session:
        if actor not in self.sessions:
            if actor not in self.world.actors:
                raise ConfigError(
                    f"the reproduction names actor '{actor}' that the rebuilt world lacks",
                    "replay with the run directory the report came from",
                )
            login = self.adapter.login(self.world.actors[actor])
            self.sessions[actor] = self.loop.run(login, timeout=30)
        return self.sessions[actor]

    def observe(self, observations: list[Observation]) -> None:
        for obs in observations:
            self.seen += self.judge(obs)

    def flow(self, step: Step) -> None:
        spec = self.adapter.profile.flows[step.action]
        resource, owner = None, step.actor
        if spec.resource is not None:
            mine = self.world.resources_of(step.actor, spec.resource)
            index = int(step.arg) if step.arg.isdigit() else 0
            resource = mine[index % len(mine)] if mine else None
        elif step.arg in self.world.actors:
            owner = step.arg  # a flow on an owner's behalf (a transfer, a deletion)
        run = self.adapter.flow(
            self.session(step.actor),
            step.action,
            resource,
            f"replay/{step.actor}/{step.action}",
            owner=owner,
        )
        self.observe(list(self.loop.run(run, timeout=30).observations))

    def look(self, actor: str) -> list[Observation]:
        surfaces = self.adapter.look(self.session(actor), f"replay/{actor}/look")
        observed: list[Observation] = self.loop.run(surfaces, timeout=120)
        self.observe(observed)
        return observed

    def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            if step.action == "look":
                self.look(step.actor)
            elif step.action not in _SKIP and self.adapter.has_flow(step.action):
                self.flow(step)

    def access_case(self, owner: str, observer: str, flows: list[str]) -> None:
        for name in flows:
            self.flow(Step(owner, name, "0"))
        reads = [o for o in self.look(owner) if o.read and o.status < 400]
        replays = [self.adapter.replay_as(self.session(observer), o) for o in reads]
        self.observe([o for o in (self.loop.run(r, timeout=30) for r in replays) if o])


def owner_flows(adapter: Target) -> list[str]:
    """The flows of the first built-in call scenario the profile supports, else none: enough
    to make the owner's reads hold the data an access leak exposed."""
    wanted = ["join", "switch_to_video", "end"]
    return [f for f in wanted if adapter.has_flow(f)] if adapter.has_flow("join") else []


# Orders tried beyond the recorded one (each on a freshly seeded world): enough to put each
# flow of a few phases last.
MAX_OTHER_ORDERS = 8


def replay(finding: Finding, adapter: Target, loop: LoopThread, run_dir: Path) -> ReplayOutcome:
    seed, counts = population_for(finding, run_dir)
    population = make_population(adapter.profile, seed, counts)
    loop.run(adapter.check(), timeout=60)

    def fresh() -> Replayer:
        world: World = loop.run(adapter.seed(population), timeout=300)
        return Replayer(adapter, loop, world)

    actions = {s.action for s in finding.repro}
    if "replay" in actions and finding.owner:
        player = fresh()
        player.access_case(finding.owner, finding.observer, owner_flows(adapter))
        same = _same(player, finding)
        return ReplayOutcome(bool(same), len(finding.repro), same)
    for attempt, steps in enumerate((finding.repro, *other_orders(finding.repro))):
        player = fresh()
        player.run(steps)
        player.look(finding.observer)
        same = _same(player, finding)
        if same:
            note = "" if attempt == 0 else _reordered(finding.repro, steps)
            return ReplayOutcome(True, len(finding.repro), same, note)
    note = (
        ""
        if finding.suite.split("@")[0] != "switch"
        else (
            "the original ran each phase for all owners at once; sequential replay, in the "
            "recorded order and with each flow of a phase last, did not bring it back; faults "
            "that need real concurrency may not (try `chaperone run --suite load`)"
        )
    )
    return ReplayOutcome(False, len(finding.repro), (), note)


def _same(player: Replayer, finding: Finding) -> tuple[Finding, ...]:
    return tuple(f for f in player.seen if same_identity(f, finding))


def other_orders(steps: tuple[Step, ...]) -> list[tuple[Step, ...]]:
    """The recorded steps with one flow of a phase moved to the end of its phase, for each flow
    of each phase that is not last already (at most MAX_OTHER_ORDERS).

    A phase ran its flows for every owner at once, and the order the harness saw them finish
    in is not always the order the target applied them in. The bug that matters most here
    (2020: a recording filed under the patient whose call was joined last) depends only on
    which flow of a phase came last, so each flow takes a turn at the end."""
    orders: list[tuple[Step, ...]] = []
    for start, end in _phases(steps):
        for index in range(start, end - 1):
            phase = [*steps[start:index], *steps[index + 1 : end], steps[index]]
            orders.append((*steps[:start], *phase, *steps[end:]))
    return orders[:MAX_OTHER_ORDERS]


def _phases(steps: tuple[Step, ...]) -> list[tuple[int, int]]:
    """[start, end) of each run of two or more flows of the same name by different actors."""
    found: list[tuple[int, int]] = []
    start = 0
    for index in range(1, len(steps) + 1):
        same = (
            index < len(steps)
            and steps[index].action == steps[start].action
            and steps[index].actor not in {s.actor for s in steps[start:index]}
        )
        if same:
            continue
        if index - start >= 2 and steps[start].action not in _SKIP:
            found.append((start, index))
        start = index
    return found


def _reordered(recorded: tuple[Step, ...], steps: tuple[Step, ...]) -> str:
    for start, end in _phases(steps):
        if steps[start:end] != recorded[start:end]:
            last = steps[end - 1]
            return (
                f"reproduced with {last.actor}'s {last.action} last of its phase: the run saw "
                "that phase's flows finish in another order than the target applied them"
            )
    return ""


def same_identity(seen: Finding, original: Finding) -> bool:
    """The same bug: same kind, observer, owner and surface (the surface names the route)."""
    return (seen.kind, seen.owner, seen.observer, str(seen.surface)) == (
        original.kind,
        original.owner,
        original.observer,
        str(original.surface),
    )
