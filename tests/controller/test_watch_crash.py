"""Crash safety of the controller's watch, end to end (issue 25 Low: "watch killed between its
disable and its revoke leaves the build unrevoked"). A served controller watches a real clinic
with a planted leak; the fault-injection hook kills its process right after the disable is
committed; a restarted controller finishes the revoke and writes the incident."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from controller import audit as chain
from controller.audit_state import state_problems
from controller.decisions import Controller
from controller.guard import CRASH_ENV
from controller.store import guard_actions, open_engine
from controller.tokens import create_token, principal_for
from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from flags.policy import bind_policy
from flags.verdict import envelope_of
from harness.local_clinic import local_clinic
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.controller import serve_argv
from tests.services.postgres import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG, ENV = "video-switch", "production"
DIGEST = "9a" * 32


def _serve(
    tmp_path: Path, db: str, log: Path, *extra: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    argv = serve_argv(db, tmp_path / "controller.key", free_port(), "--backend", "local")
    argv += ["--state", str(tmp_path / "flags-state.json"), "--env", ENV]
    argv += ["--incidents", str(tmp_path / "incidents"), *extra]
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def _until(check: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.3)


def test_watch_killed_between_disable_and_revoke_resumes_on_restart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'controller.db'}"
    key = new_signing_key()
    (tmp_path / "controller.key").write_bytes(key.pem())
    backend = LocalBackend(tmp_path / "flags-state.json")
    backend.declare_environments(["development", ENV])
    engine = open_engine(db)
    controller = Controller(engine, backend, key)
    who = {
        name: principal_for(engine, create_token(engine, name, role))
        for name, role in {"alice": "admin", "bob": "admin", "rita": "release-manager"}.items()
    }
    bound = bind_policy(write_policy(tmp_path / "policy"))
    pem = SIGNING.public().pem().decode()
    proposal = controller.propose_pin(who["alice"], FLAG, bound.digest, [pem])  # type: ignore[arg-type]
    controller.approve_pin(who["bob"], proposal)  # type: ignore[arg-type]
    envelope = json.dumps(envelope_of(make_verdict(bound, build_digest=DIGEST), SIGNING)).encode()
    controller.enable(who["rita"], FLAG, ENV, envelope)  # type: ignore[arg-type]
    assert backend.status(FLAG, ENV).enabled

    def steps() -> list[str]:
        with engine.connect() as conn:
            return [row.step for row in conn.execute(select(guard_actions.c.step))]

    log = tmp_path / "serve.log"
    faults = ("switch-recording-misattribution",)
    with local_clinic(faults, flags_file=backend.clinic_file(ENV)) as clinic:
        env = {**os.environ, "CHAPERONE_SUPPORT_TOKEN": clinic.support_token, CRASH_ENV: "disable"}
        crashing = _serve(
            tmp_path, db, log, "--watch-target", clinic.url, "--watch-interval", "1", env=env
        )
        try:
            crashing.wait(timeout=180)
        finally:
            if crashing.poll() is None:
                crashing.kill()
        assert crashing.returncode == 137, log.read_text(errors="replace")[-3000:]

    # Killed right after the disable committed: off, but not yet revoked, no incident.
    assert not backend.status(FLAG, ENV).enabled
    assert steps() == ["revoke"]
    assert controller.status(who["rita"], FLAG)["revoked"] == []  # type: ignore[arg-type]
    assert not (tmp_path / "incidents").exists()

    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    restarted = _serve(tmp_path, db, log, env=env)
    try:
        _until(lambda: steps() == ["done"], 90, "the restart did not finish the response", log)
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    assert controller.status(who["rita"], FLAG)["revoked"] == [DIGEST]  # type: ignore[arg-type]
    [folder] = (tmp_path / "incidents").iterdir()
    incident = json.loads((folder / "incident.json").read_text())
    assert incident["revoked_build"] == DIGEST and incident["exposures"]
    assert incident["disabled_at"] and incident["detected_at"] <= incident["disabled_at"]
    assert chain.verify(engine, key.public()) == []
    assert state_problems(engine) == []
