"""switch-race: simultaneous switches against a real server misfile recordings only when the
fault is planted. Sequential switches never show it, which is why this needs real threads."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from clinic.settings import ClinicSettings
from tests.clinic.server import running_clinic
from tests.clinic.world import SUPPORT_TOKEN, World, foreign, seed

ROUNDS = 4
RACERS = ("alice", "bob", "carol")


def _misfiled_after_concurrent_switches(data_dir: Path, faults: frozenset[str]) -> int:
    settings = ClinicSettings(
        data_dir=data_dir,
        faults=faults,
        support_token=SUPPORT_TOKEN,
        switch_negotiation_seconds=0.04,
    )
    with (
        running_clinic(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        world = seed(client)
        for user in RACERS:
            assert world.call(user, "join").status_code == 200
        for round_no in range(ROUNDS):
            _switch_together(world, "video" if round_no % 2 == 0 else "audio")
        return sum(len(foreign(world.recordings(user), world, user)) for user in RACERS)


def _switch_together(world: World, mode: str) -> None:
    for user in RACERS:
        world.headers(user)
    barrier = threading.Barrier(len(RACERS))
    statuses: list[int] = []

    def switch(user: str) -> None:
        barrier.wait()
        statuses.append(world.call(user, "switch", mode).status_code)

    threads = [threading.Thread(target=switch, args=(user,)) for user in RACERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * len(RACERS)


@pytest.mark.slow
def test_simultaneous_switches_misfile_with_the_fault(tmp_path: Path) -> None:
    assert _misfiled_after_concurrent_switches(tmp_path, frozenset({"switch-race"})) > 0


@pytest.mark.slow
def test_simultaneous_switches_never_misfile_on_clean_build(tmp_path: Path) -> None:
    assert _misfiled_after_concurrent_switches(tmp_path, frozenset()) == 0


def test_sequential_switches_do_not_show_the_race(tmp_path: Path) -> None:
    settings = ClinicSettings(
        data_dir=tmp_path,
        faults=frozenset({"switch-race"}),
        support_token=SUPPORT_TOKEN,
        switch_negotiation_seconds=0.01,
    )
    with (
        running_clinic(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        world = seed(client)
        for user in RACERS:
            world.call(user, "join")
            world.call(user, "switch", "video")
        assert all(not foreign(world.recordings(u), world, u) for u in RACERS)
