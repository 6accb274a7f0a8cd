"""Schemathesis's own checks as a separate category; the actor rotation; its configuration."""

from __future__ import annotations

import json
from pathlib import Path

from harness.adapters import Session
from harness.config import RunOptions
from harness.models import ANONYMOUS, Actor, Verdict
from scenarios.fuzz.contract import Contract, ContractFailure
from scenarios.fuzz.document import Plan
from scenarios.fuzz.runner import CONTRACT_CHECKS, Rotation, Sessions, config_for
from scenarios.fuzz.suite import _passes, turns_by_role
from scenarios.fuzz.traffic import Credentials


def _failure(
    check: str = "status_code_conformance", operation: str = "GET /api/me", actor: str = "p0"
) -> ContractFailure:
    return ContractFailure(
        check,
        operation,
        "Undocumented status code",
        actor,
        418,
        "curl -X GET -H 'Authorization: <redacted>' http://x/api/me",
    )


def test_contract_failures_are_counted_once_and_are_not_exposures(tmp_path: Path) -> None:
    contract = Contract()
    assert contract.add(_failure())
    assert not contract.add(_failure(actor="p1"))  # the same defect seen by someone else
    assert contract.add(_failure(operation="GET /api/flags"))
    finding = _failure().finding("fuzz")
    assert finding.kind == "contract" and finding.check == "schemathesis:status_code_conformance"
    assert finding.owner is None and not finding.is_exposure
    assert finding.repro[0].action == "request" and "<redacted>" in finding.repro[0].arg
    written = json.loads(contract.write(tmp_path / "fuzz" / "contract.json").read_text())
    assert len(written["failures"]) == 2


def test_contract_checks_fail_the_suite_only_when_required() -> None:
    contract = Contract()
    contract.add(_failure())
    reported = {c.name: c for c in contract.cases("fuzz", CONTRACT_CHECKS, required=False)}
    assert reported["contract status_code_conformance"].verdict is Verdict.PASS
    assert "does not fail" in reported["contract status_code_conformance"].message
    assert reported["contract not_a_server_error"].message == "no failure"
    required = {c.name: c for c in contract.cases("fuzz", CONTRACT_CHECKS, required=True)}
    assert required["contract status_code_conformance"].verdict is Verdict.FAIL
    assert required["contract status_code_conformance"].finding_keys
    assert required["contract not_a_server_error"].verdict is Verdict.PASS


def test_every_actor_takes_its_turn_and_an_expired_one_logs_in_again() -> None:
    logins: list[str] = []

    def login(actor: Actor) -> Session:
        logins.append(actor.id)
        return Session(actor, headers={"Authorization": f"Bearer {actor.id}-{len(logins)}"})

    credentials = Credentials(["Authorization"])
    actors = [Actor("p0", "patient"), Actor("c0", "clinician"), ANONYMOUS]
    sessions = Sessions(login, credentials)
    sessions.start(actors)
    assert logins == ["p0", "c0"]
    rotation = Rotation(actors, sessions)
    turns = [rotation.next() for _ in range(6)]
    assert [t.actor.id if t else None for t in turns] == ["p0", "c0", None] * 2
    sessions.expired("c0")
    assert [t.actor.id if t else None for t in (rotation.next(), rotation.next())] == ["p0", "c0"]
    assert logins == ["p0", "c0", "c0"] and sessions.relogins == 1
    assert credentials.actor_of({"Authorization": "Bearer c0-2"}) == "c0"  # the first token
    assert credentials.actor_of({"Authorization": "Bearer c0-3"}) == "c0"  # and the new one
    alone = Rotation([actors[1]], sessions)  # an examples pass: always the same actor
    assert {alone.next().actor.id for _ in range(3)} == {"c0"}  # type: ignore[union-attr]
    assert logins == ["p0", "c0", "c0"]  # the shared session, no new login


def test_a_session_older_than_the_profile_allows_is_renewed() -> None:
    ancient = Sessions(lambda a: Session(a, obtained=0.0), Credentials([]), every_seconds=45)
    actor = Actor("p0", "patient")
    first = ancient.of(actor)
    assert ancient.of(actor) is not first and ancient.relogins == 1
    fresh = Sessions(lambda a: Session(a), Credentials([]), every_seconds=45)
    kept = fresh.of(actor)
    assert fresh.of(actor) is kept and fresh.relogins == 0


def test_examples_go_out_as_each_actor_then_the_rest_in_turn() -> None:
    actors = [Actor("p0", "patient"), Actor("c0", "clinician"), ANONYMOUS]
    passes = _passes(("examples", "coverage", "fuzzing", "stateful"), actors)
    # one examples pass: the first actor sends each case, the others send it again
    assert passes[0] == (("examples",), tuple(actors))
    assert passes[1] == (("coverage", "fuzzing", "stateful"), tuple(actors))
    assert len(passes) == 2
    assert _passes(("fuzzing",), actors) == [(("fuzzing",), tuple(actors))]


def test_the_schemathesis_configuration_follows_the_run_options() -> None:
    plan = Plan({"openapi": "3.0.0", "paths": {}}, "/api", (), (), ("GET", "OPTIONS"))
    options = RunOptions(seed=7, fuzz_examples=3, fuzz_phases=("examples", "fuzzing"))
    config = config_for(plan, options, "http://127.0.0.1:8000/")
    project = config.projects.get_default()
    assert project.base_url == "http://127.0.0.1:8000/api"
    assert config.seed == 7
    assert project.phases.coverage.enabled is False
    assert project.phases.stateful.enabled is False
    assert project.phases.fuzzing.enabled is True
    assert project.phases.coverage.unexpected_methods == {"get", "options"}
    assert project.generation.max_examples == 3
    assert config.cache.enabled is False


def test_the_examples_passes_take_the_roles_in_turn() -> None:
    """The time limit may cut the passes: the first ones reach every role and anonymous."""
    seeded = [Actor(f"c{i}", "clinician") for i in range(2)]
    seeded += [Actor(f"p{i}", "patient") for i in (10, 2, 0, 1)]
    order = [a.id for a in turns_by_role(seeded)]
    assert order == ["p0", "c0", ANONYMOUS.id, "p1", "c1", "p2", "p10"]
    assert [a.id for a in turns_by_role([])] == [ANONYMOUS.id]
