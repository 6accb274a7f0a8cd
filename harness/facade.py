"""A synchronous facade over one seeded world, for QA engineers' own pytest scenarios.

def test_my_flow(chaperone):
    p0, p1 = chaperone.patients[:2]
    chaperone.act(p0, "join"); chaperone.act(p1, "join")
    chaperone.act(p0, "switch", "video")
    assert chaperone.look(p1) == []        # findings: nobody sees what they may not
"""

from __future__ import annotations

from harness.adapters import DEFAULT_ADAPTER, Session, TargetAdapter, make_adapter
from harness.aio import LoopThread
from harness.models import Finding, Observation
from harness.oracles import Judge
from harness.population import make_population
from harness.world import World


class Chaperone:
    def __init__(self, target: str, support_token: str, adapter: str = DEFAULT_ADAPTER) -> None:
        self.loop = LoopThread()
        self.adapter: TargetAdapter = make_adapter(adapter, target, support_token)
        self.loop.run(self.adapter.check(), timeout=60)
        self._sessions: dict[str, Session] = {}
        self.world: World | None = None
        self.judge: Judge | None = None

    def seed(self, seed: int = 0, patients: int = 3, clinicians: int = 1) -> World:
        population = make_population(seed, patients, clinicians, 2)
        self.world = self.loop.run(self.adapter.seed(population), timeout=120)
        self.judge = Judge.from_world(self.world, listing=self.adapter.listing)
        self._sessions.clear()
        return self.world

    @property
    def patients(self) -> list[str]:
        return [a.id for a in self._world.patients]

    @property
    def clinicians(self) -> list[str]:
        return [a.id for a in self._world.clinicians]

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

    def act(self, patient: str, action: str, arg: str = "", appointment: int = 0) -> Observation:
        """Drive the patient's call: join, leave, switch (arg video/audio) or end."""
        consultation = self._world.appointments_of(patient)[appointment].consultation_id
        call = self.adapter.act(
            self.session(patient), f"pytest/{patient}/{action}", action, consultation, arg
        )
        return self.loop.run(call, timeout=30)

    def look(self, actor: str) -> list[Finding]:
        """Everything the actor can reach, judged by every oracle."""
        assert self.judge is not None
        surfaces = self.adapter.surfaces(self.session(actor), f"pytest/{actor}/look")
        return [f for obs in self.loop.run(surfaces, timeout=60) for f in self.judge(obs)]

    def close(self) -> None:
        self.loop.run(self.adapter.aclose(), timeout=10)
        self.loop.close()
