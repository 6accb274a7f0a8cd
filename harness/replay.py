"""Replays one finding's reproduction against a target and says whether it still reproduces.

The run directory holds what is needed to rebuild the same synthetic population: `world.json`
(seed) and `options.json` (how many patients, clinicians, appointments). The steps are run in
order, one at a time; `look` steps have the observer read everything they can reach. Access
matrix findings (`request` / `replay` steps) are rebuilt generically: the owner's call is
driven and recorded, the owner reads their recordings, and the observer repeats those reads.

Findings that needed concurrency (the original ran phases at once) may not reproduce
sequentially; the outcome says so rather than pretending.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.adapters import Session, TargetAdapter
from harness.aio import LoopThread
from harness.config import RunOptions
from harness.errors import ConfigError, UsageError
from harness.models import Finding, Observation, Step
from harness.oracles import Judge
from harness.population import make_population
from harness.world import World

STATEFUL_POPULATION = (2, 1, 1)  # patients, clinicians, appointments: scenarios.stateful's


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    reproduced: bool
    steps: int
    findings: tuple[Finding, ...]  # what the replay saw that matches the original
    note: str = ""


def population_for(finding: Finding, run_dir: Path) -> tuple[int, int, int, int]:
    """(seed, patients, clinicians, appointments per patient) the finding was seen with."""
    try:
        options = RunOptions.model_validate_json((run_dir / "options.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read {run_dir / 'options.json'} next to the report ({exc})",
            "replay needs the run directory that `chaperone run` wrote, not a copied report",
        ) from None
    seed = options.seed
    if "@seed=" in finding.suite:
        seed = int(finding.suite.split("@seed=", 1)[1])
    if finding.suite == "stateful":
        patients, clinicians, appointments = STATEFUL_POPULATION
        return seed, patients, clinicians, appointments
    return seed, options.patients, options.clinicians, options.appointments_per_patient


def pick_finding(findings: list[Finding], key: str) -> Finding:
    """By key (or a unique prefix), or by 1-based position in the report."""
    if key.isdigit() and 1 <= int(key) <= len(findings):
        return findings[int(key) - 1]
    matches = [f for f in findings if f.key.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    problem = "matches several findings" if matches else "matches no finding"
    raise UsageError(
        f"--finding '{key}' {problem} in the report",
        "pass a key from report.json (findings[].key) or a 1-based index",
    )


class Replayer:
    def __init__(self, adapter: TargetAdapter, loop: LoopThread, world: World) -> None:
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

    def call(self, step: Step) -> None:
        mode, _, index = step.arg.rpartition(":") if ":" in step.arg else ("", "", step.arg)
        appointments = self.world.appointments_of(step.actor)
        k = int(index) if index.isdigit() and int(index) < len(appointments) else 0
        action = "join" if step.action == "rejoin" else step.action
        arg = mode or (step.arg if action == "switch" else "")
        act = self.adapter.act(
            self.session(step.actor),
            f"replay/{step.actor}/{action}",
            action,
            appointments[k].consultation_id,
            arg,
        )
        self.observe([self.loop.run(act, timeout=30)])

    def look(self, actor: str) -> list[Observation]:
        surfaces = self.adapter.surfaces(self.session(actor), f"replay/{actor}/look")
        observed = self.loop.run(surfaces, timeout=60)
        self.observe(observed)
        return observed

    def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            if step.action in ("join", "rejoin", "leave", "switch", "end"):
                self.call(step)
            elif step.action in ("look", "profile", "recordings", "appointments"):
                self.look(step.actor)

    def access(self, owner: str, observer: str) -> None:
        """The access-matrix case rebuilt: owner records a call, observer repeats owner's reads."""
        self.run((Step(owner, "join"), Step(owner, "switch", "video:0"), Step(owner, "end")))
        reads = [o for o in self.look(owner) if o.method == "GET" and o.status < 400]
        replays = [self.adapter.replay_as(self.session(observer), o) for o in reads]
        self.observe([o for o in (self.loop.run(r, timeout=30) for r in replays) if o])


def replay(
    finding: Finding, adapter: TargetAdapter, loop: LoopThread, run_dir: Path
) -> ReplayOutcome:
    seed, patients, clinicians, appointments = population_for(finding, run_dir)
    population = make_population(seed, patients, clinicians, appointments)
    loop.run(adapter.check(), timeout=60)
    world = loop.run(adapter.seed(population), timeout=120)
    player = Replayer(adapter, loop, world)
    actions = {s.action for s in finding.repro}
    if "replay" in actions and finding.owner:
        player.access(finding.owner, finding.observer)
    else:
        player.run(finding.repro)
        player.look(finding.observer)
    same = tuple(f for f in player.seen if _same(f, finding))
    note = (
        ""
        if same or finding.suite.split("@")[0] != "switch"
        else (
            "the original ran each phase for all patients at once; sequential replay may miss "
            "faults that need concurrency (try `chaperone run --suite load`)"
        )
    )
    return ReplayOutcome(bool(same), len(finding.repro), same, note)


def _same(seen: Finding, original: Finding) -> bool:
    return (seen.kind, seen.owner, seen.observer) == (
        original.kind,
        original.owner,
        original.observer,
    )
