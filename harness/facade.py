"""A synchronous facade over one seeded world, for QA engineers' own pytest scenarios.

def test_my_flow(chaperone):
    p0, p1 = chaperone.owners[:2]
    chaperone.act(p0, "join"); chaperone.act(p1, "join")
    chaperone.act(p0, "switch_to_video")
    assert chaperone.look(p1) == []        # findings: nobody sees what they may not
    # on a leak: one line per exposure, "p0-… → p1-…: note (...) at json:GET ... (14:03:05 UTC)"

Flow names are the target profile's (`chaperone.flows` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.adapters import DEFAULT_ADAPTER, FlowResult, Session, Target, make_target
from harness.aio import LoopThread
from harness.models import Observation
from harness.oracles import Judge
from harness.population import Counts, make_population
from harness.profile import LoadedProfile, load_profile
from harness.readable import Findings
from harness.world import World


class Chaperone:
    def __init__(
        self,
        target: str,
        support_token: str = "",
        profile: LoadedProfile | str = "clinic",
        adapter: str = DEFAULT_ADAPTER,
        label: str = "pytest",
    ) -> None:
        loaded = load_profile(profile) if isinstance(profile, str) else profile
        # Names the steps (`pytest/p1/look`): a finding's step, and its root cause's title,
        # tell which caller looked.
        self.label = label
        self.loop = LoopThread()
        self.adapter: Target = make_target(
            loaded.profile, target, support_token, None, adapter, str(loaded.directory)
        )
        self.loop.run(self.adapter.check(), timeout=60)
        self._sessions: dict[str, Session] = {}
        self.world: World | None = None
        self.judge: Judge | None = None

    def seed(
        self,
        seed: int = 0,
        owners: int = 3,
        observers: int = 1,
        population: Mapping[str, int] | None = None,
    ) -> World:
        """A fresh small world: `owners` users of every role that owns data, `observers` of
        every role that only observes, two resources of each kind per owner, no heavy owner;
        `population` sizes named roles and resources (the profile's names, and `heavy`)
        instead."""
        counts = Counts(
            dict(population or {}), owners=owners, observers=observers, per_owner=2, heavy=0
        )
        planned = make_population(self.adapter.profile, seed, counts)
        self.world = self.loop.run(self.adapter.seed(planned), timeout=300)
        self.judge = Judge.from_world(self.world, listing=self.adapter.listing)
        self._sessions.clear()
        return self.world

    @property
    def owners(self) -> list[str]:
        """Users who own resources (patients, in the clinic): who drives flows."""
        owning = {r.owner for r in self._world.resources}
        return [a.id for a in self._world.actors.values() if a.id in owning]

    @property
    def observers(self) -> list[str]:
        """Everyone else (clinicians, in the clinic)."""
        owners = set(self.owners)
        return [a.id for a in self._world.actors.values() if a.id not in owners]

    @property
    def flows(self) -> list[str]:
        return sorted(self.adapter.profile.flows)

    @property
    def _world(self) -> World:
        if self.world is None:
            raise RuntimeError("call seed() first")
        return self.world

    def session(self, actor: str) -> Session:
        if actor not in self._sessions:
            login = self.adapter.login(self._world.actors[actor])
            self._sessions[actor] = self.loop.run(login, timeout=30)
        return self._sessions[actor]

    def act(self, actor: str, flow: str, resource: int = 0) -> FlowResult:
        """Run the profile's `flow` as `actor` on their `resource`-th resource of its kind."""
        spec = self.adapter.profile.flows[flow]
        target = None
        if spec.resource is not None:
            target = self._world.resources_of(actor, spec.resource)[resource]
        call = self.adapter.flow(self.session(actor), flow, target, f"{self.label}/{actor}/{flow}")
        result: FlowResult = self.loop.run(call, timeout=30)
        return result

    def judge_all(self, observations: list[Observation]) -> Findings:
        assert self.judge is not None, "call seed() first"
        return Findings(f for obs in observations for f in self.judge(obs))

    def look(self, actor: str) -> Findings:
        """Everything the actor can reach, judged by every oracle."""
        surfaces = self.adapter.look(self.session(actor), f"{self.label}/{actor}/look")
        return self.judge_all(self.loop.run(surfaces, timeout=120))

    def close(self) -> None:
        self.loop.run(self.adapter.aclose(), timeout=10)
        self.loop.close()
