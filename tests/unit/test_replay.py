"""`chaperone replay` reproduces a finding only by its exact identity: the same kind, observer,
owner and surface (route). A different leak between the same two users is another bug."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.adapters.profile import ProfileTarget
from harness.aio import LoopThread
from harness.config import RunOptions
from harness.errors import UsageError
from harness.events import FindingRaised
from harness.models import Finding, Step
from harness.profile import load_profile
from harness.replay import other_orders, pick_finding, replay, same_identity
from tests.unit.inprocess import BASE, TOKEN, run_inprocess, transport

# Two scenarios: the incident's (the switch finding replays its steps) and a look; every
# finding here shows in them, and fourteen would only make the runs longer.
OPTIONS = RunOptions(
    suites=("switch", "access"),
    population={"patient": 3, "clinician": 1},
    scenarios=("switch-mid-call", "look-around"),
)


def _findings(tmp: Path, fault: str) -> list[Finding]:
    tmp.mkdir(parents=True, exist_ok=True)
    events = run_inprocess(tmp, OPTIONS, frozenset({fault}))
    return [e.finding for e in events if isinstance(e, FindingRaised)]


def _replay(finding: Finding, run_dir: Path, clinic_dir: Path, faults: frozenset[str]) -> bool:
    clinic_dir.mkdir(exist_ok=True)
    loop = LoopThread()
    target = ProfileTarget(
        load_profile("clinic").profile, BASE, TOKEN, transport(clinic_dir, faults)
    )
    try:
        return replay(finding, target, loop, run_dir).reproduced
    finally:
        loop.run(target.aclose(), timeout=10)
        loop.close()


ROUTE = "GET /api/recordings/{recording_id}"


@pytest.fixture(scope="module")
def idor_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Finding]]:
    """One recording-idor run, shared: replays only read its directory."""
    tmp = tmp_path_factory.mktemp("idor")
    return tmp / "out", _findings(tmp, "recording-idor")


def test_an_access_finding_reproduces_on_the_faulty_build_and_not_on_the_fix(
    tmp_path: Path, idor_run: tuple[Path, list[Finding]]
) -> None:
    run_dir, found = idor_run
    # Between two patients: a clinician's finding may rest on a discharge or transfer made
    # earlier in the run, which a replay on a freshly seeded world does not repeat.
    idor = next(
        f
        for f in found
        if f.suite == "access" and f.surface.where == ROUTE and f.observer.startswith("p")
    )
    assert _replay(idor, run_dir, tmp_path / "faulty", frozenset({"recording-idor"}))
    assert not _replay(idor, run_dir, tmp_path / "fixed", frozenset())


def test_another_leak_between_the_same_users_is_not_a_reproduction(
    tmp_path: Path, idor_run: tuple[Path, list[Finding]]
) -> None:
    """The media token leak exposes the same owners to the same observers, on another route:
    replaying the metadata IDOR against that build must say it no longer reproduces."""
    run_dir, found = idor_run
    other = _findings(tmp_path / "other", "media-token-unbound")
    pairs = {(f.owner, f.observer) for f in other}
    # the access matrix samples pairs: pick an IDOR whose pair the media leak also exposed
    idor = next(
        f
        for f in found
        if f.suite == "access" and f.surface.where == ROUTE and (f.owner, f.observer) in pairs
    )
    assert not any(same_identity(f, idor) for f in other)
    assert not _replay(idor, run_dir, tmp_path / "media", frozenset({"media-token-unbound"}))


def test_a_switch_finding_replays_its_steps(tmp_path: Path) -> None:
    found = _findings(tmp_path, "switch-recording-misattribution")
    leak = next(f for f in found if f.suite == "switch" and f.owner != f.observer)
    assert any(step.action == "switch_to_video" for step in leak.repro)
    fault = frozenset({"switch-recording-misattribution"})
    assert _replay(leak, tmp_path / "out", tmp_path / "again", fault)


def test_each_flow_of_a_phase_takes_a_turn_last() -> None:
    steps = (
        Step("p0", "join", "0"),
        Step("p1", "join", "0"),
        Step("p2", "join", "0"),
        Step("p0", "switch_to_video", "0"),
        Step("p1", "switch_to_video", "0"),
        Step("p1", "look"),
        Step("p2", "look"),
    )
    orders = other_orders(steps)
    lasts = [(o[2].actor, o[4].actor) for o in orders]
    assert lasts == [("p0", "p1"), ("p1", "p1"), ("p2", "p0")]
    for order in orders:
        assert sorted(order, key=str) == sorted(steps, key=str)  # the same steps, reordered
        assert order[5:] == steps[5:]  # looks are not a phase of flows
    # Two flows by the same user, or flows of different names, are not one phase.
    assert other_orders((Step("p0", "join", "0"), Step("p0", "join", "1"))) == []
    assert other_orders((Step("p0", "join", "0"), Step("p1", "leave", "0"))) == []


def test_a_switch_finding_replays_when_the_run_saw_its_joins_finish_out_of_order(
    tmp_path: Path,
) -> None:
    """The 2020 bug filed a recording under the patient whose call was joined last; the order
    the harness saw the joins answered in is not always the order the clinic applied them in.
    Here the recorded order is made wrong on purpose: the observer's join first, not last."""
    found = _findings(tmp_path, "switch-recording-misattribution")
    leak = next(f for f in found if f.suite == "switch" and f.owner != f.observer)
    start = next(i for i, s in enumerate(leak.repro) if s.action == "join")
    end = next(
        i
        for i in range(start, len(leak.repro) + 1)
        if i == len(leak.repro) or leak.repro[i].action != "join"
    )
    assert end - start >= 2  # the join phase: every owner joined at once
    phase = list(leak.repro[start:end])
    mine = next(s for s in phase if s.actor == leak.observer)
    wrong = (*leak.repro[:start], mine, *(s for s in phase if s is not mine), *leak.repro[end:])
    shuffled = replace(leak, repro=wrong)
    fault = frozenset({"switch-recording-misattribution"})
    assert _replay(shuffled, tmp_path / "out", tmp_path / "again", fault)
    assert not _replay(shuffled, tmp_path / "out", tmp_path / "fixed", frozenset())


# -- `--finding`: every id a run shows ------------------------------------------------------


def _printed_run() -> tuple[list[Finding], dict[str, Finding], str]:
    """A failing run's findings, its causes, and the console summary the run printed."""
    from io import StringIO

    from rich.console import Console

    from reports.console import ConsoleReporter
    from reports.groups import cause_ids
    from reports.result import RunCollector
    from tests.reports.streams import failing_run

    result = RunCollector().consume(failing_run())
    out = StringIO()
    ConsoleReporter(Console(file=out, width=200), plain=True).summary(result)
    return (
        [r.finding for r in result.findings],
        cause_ids(result.findings, result.roles),
        out.getvalue(),
    )


def test_every_cause_id_the_run_prints_picks_its_shortest_reproduction() -> None:
    findings, causes, printed = _printed_run()
    shown = re.findall(r"^\s+\[([0-9a-f]+)\]", printed, re.MULTILINE)
    assert shown and set(shown) == set(causes)
    for key in shown:
        assert pick_finding(findings, key, causes) is causes[key]
        assert pick_finding(findings, f"[{key}]", causes) is causes[key]  # as printed
        assert pick_finding(findings, key[:4], causes) is causes[key]  # a short prefix


def test_finding_keys_prefixes_and_positions_are_accepted() -> None:
    findings, causes, _ = _printed_run()
    for i, finding in enumerate(findings, 1):
        assert pick_finding(findings, finding.key, causes) is finding
        assert pick_finding(findings, finding.key[:8].upper(), causes) is finding
        assert pick_finding(findings, str(i), causes) is finding


def test_an_unknown_id_is_one_line_with_the_closest_ones() -> None:
    findings, causes, _ = _printed_run()
    near = next(iter(causes))
    wrong = near[:3] + ("0" if near[3] != "0" else "1") + near[4:]
    with pytest.raises(UsageError) as caught:
        pick_finding(findings, wrong, causes)
    line = caught.value.one_line()
    assert "matches no finding or cause" in line and f"closest: {near}" in line
    assert "\n" not in line
