"""The controller's signed audit: intact, rewritten, re-chained and truncated logs, through
`chaperone audit verify`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from controller import audit as chain
from controller.store import audit
from tests.controller.conftest import World

TAMPERS_WITH_THE_DATABASE = True  # see the world fixture


def _verify(world: World, tmp_path: Path, checkpoints: Path | None = None) -> tuple[int, str]:
    public = tmp_path / "controller.pub"
    public.write_bytes(world.audit_key.public().pem())
    args = ["audit", "verify", "--db", world.db, "--public-key", str(public)]
    if checkpoints is not None:
        args += ["--checkpoints", str(checkpoints)]
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", *args], capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr


def _logged(world: World, tmp_path: Path) -> Path:
    world.pin()
    points = tmp_path / "checkpoints.jsonl"
    assert chain.write_checkpoint(world.controller.engine, world.audit_key, points) is not None
    return points


def test_an_untouched_log_verifies(world: World, tmp_path: Path) -> None:
    points = _logged(world, tmp_path)
    code, out = _verify(world, tmp_path, points)
    assert code == 0, out
    assert "intact" in out


def test_a_rewritten_row_is_reported(world: World, tmp_path: Path) -> None:
    points = _logged(world, tmp_path)
    with world.controller.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 1).values(actor="mallory"))
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "row 1 was rewritten" in out


def test_a_rechained_log_is_reported(world: World, tmp_path: Path) -> None:
    # Whoever rewrites a row and recomputes every hash still cannot sign as the controller.
    _logged(world, tmp_path)
    with world.controller.engine.begin() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
        prev = chain.GENESIS
        for row in rows:
            actor = "mallory" if row.seq == 1 else row.actor
            digest = chain.entry_hash(
                row.seq, row.at, actor, row.action, row.flag, row.env, row.detail, prev
            )
            conn.execute(
                update(audit)
                .where(audit.c.seq == row.seq)
                .values(actor=actor, prev=prev, sha256=digest)
            )
            prev = digest
    code, out = _verify(world, tmp_path)
    assert code == 2
    assert "not signed by the controller's key" in out
    assert "rewritten" not in out


def test_a_truncated_log_is_reported_by_its_checkpoint(world: World, tmp_path: Path) -> None:
    points = _logged(world, tmp_path)
    with world.controller.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq == 2))
    code, out = _verify(world, tmp_path)
    # The chain alone cannot see a cut-off tail (checkpoints do); here the cut row was the pin's
    # approval, so the pin the controller holds is one the audit never approved.
    assert code == 2, out
    assert "has a pin the audit never approved" in out and "row 2" not in out
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "checkpoint 2 names a row the log no longer has" in out


def test_a_row_removed_from_the_middle_is_reported(world: World, tmp_path: Path) -> None:
    _logged(world, tmp_path)
    world.client.post("/v1/flags/video-switch/envs/production/disable", headers=world.as_("rita"))
    with world.controller.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq == 2))
    code, out = _verify(world, tmp_path)
    assert code == 2
    assert "row 2 is missing" in out


def test_a_forged_checkpoint_is_reported(world: World, tmp_path: Path) -> None:
    points = _logged(world, tmp_path)
    points.write_text(points.read_text().replace('"seq": 2', '"seq": 1'))
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "checkpoint 1 is not signed" in out


def test_rows_added_after_the_newest_checkpoint_are_reported(world: World, tmp_path: Path) -> None:
    # Issue 25: "lines added after the head are not reported". The newest checkpoint must be
    # the log's head; rows past it are unanchored unless they are younger than the grace.
    points = _logged(world, tmp_path)
    world.client.post("/v1/flags/video-switch/envs/production/disable", headers=world.as_("rita"))
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    said = " ".join(out.split())  # the console wraps long lines
    assert "rows 3..4 come after the newest checkpoint (row 2)" in said
    assert "does not match the log's head (row 4)" in said
    problems = chain.verify(world.controller.engine, world.audit_key.public(), points, grace=600)
    assert problems == []  # a live controller between two checkpoints
    chain.write_checkpoint(world.controller.engine, world.audit_key, points)
    code, out = _verify(world, tmp_path, points)
    assert code == 0, out


def test_an_empty_checkpoint_file_anchors_nothing(world: World, tmp_path: Path) -> None:
    # Issue 25: "an empty head matches anything".
    world.pin()
    points = tmp_path / "checkpoints.jsonl"
    points.write_text("")
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "no checkpoint anchors the log (rows 1..2)" in out


def test_a_whole_log_rolled_back_under_a_newer_checkpoint_is_reported(
    world: World, tmp_path: Path
) -> None:
    points = _logged(world, tmp_path)
    db = Path(world.db.removeprefix("sqlite:///"))
    old = db.read_bytes()  # an older consistent copy of the whole database
    world.client.post("/v1/flags/video-switch/envs/production/disable", headers=world.as_("rita"))
    chain.write_checkpoint(world.controller.engine, world.audit_key, points)
    world.controller.engine.dispose()
    db.write_bytes(old)
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "names a row the log no longer has" in out


def test_checkpoints_to_stdout_are_one_signed_line_per_new_head(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.pin()
    first = chain.write_checkpoint(world.controller.engine, world.audit_key, chain.STDOUT)
    assert first is not None
    again = chain.write_checkpoint(
        world.controller.engine, world.audit_key, chain.STDOUT, first.seq
    )
    assert again == first
    [line] = capsys.readouterr().out.splitlines()
    shipped = tmp_path / "shipped.jsonl"
    shipped.write_text(line + "\n")
    code, out = _verify(world, tmp_path, shipped)
    assert code == 0, out


def test_a_database_rolled_back_with_its_checkpoint_file_is_caught_by_the_shipped_copy(
    world: World, tmp_path: Path
) -> None:
    # Issue 25: "restoring an old consistent copy of the log and state". Whoever can write the
    # controller's host can roll back the database and the checkpoint file beside it together;
    # that pair agrees with itself (the limit docs/controller.md states). The copy the operator
    # keeps apart (a log shipper's stream of `--checkpoints -`, a CI artefact) still has the
    # newer checkpoint, and verifying against it reports the rollback.
    points = _logged(world, tmp_path)
    shipped = tmp_path / "shipped.jsonl"  # the operator's copy, out of the host's reach
    shipped.write_text(points.read_text())
    db = Path(world.db.removeprefix("sqlite:///"))
    old_db, old_points = db.read_bytes(), points.read_bytes()
    world.client.post("/v1/flags/video-switch/envs/production/disable", headers=world.as_("rita"))
    chain.write_checkpoint(world.controller.engine, world.audit_key, points)
    shipped.write_text(points.read_text())
    world.controller.engine.dispose()
    db.write_bytes(old_db)
    points.write_bytes(old_points)

    code, out = _verify(world, tmp_path, points)
    assert code == 0, out  # the rolled-back pair, alone, looks intact
    code, out = _verify(world, tmp_path, shipped)
    assert code == 2
    assert "names a row the log no longer has" in out


def test_a_pin_swapped_or_a_revocation_deleted_in_the_database_is_reported(
    world: World, tmp_path: Path
) -> None:
    # Issue 25: "swapping or deleting the pin, deleting a revocation". The API has no way to
    # do either without two admins; whoever writes the controller's database directly leaves
    # tables that no longer match the signed audit.
    import json

    from controller.store import pins, revocations
    from flags.keys import new_signing_key

    points = _logged(world, tmp_path)
    world.client.post(
        "/v1/flags/video-switch/revocations", json={"digest": "ef" * 32}, headers=world.as_("rita")
    )
    chain.write_checkpoint(world.controller.engine, world.audit_key, points)
    code, out = _verify(world, tmp_path, points)
    assert code == 0, out
    with world.controller.engine.begin() as conn:
        [row] = conn.execute(select(pins)).all()
        [keyid] = json.loads(row.keys)
        mallory = new_signing_key().public().pem().decode()
        conn.execute(update(pins).values(keys=json.dumps({keyid: mallory})))  # same id, new key
        conn.execute(delete(revocations))
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    assert "the pin of 'video-switch' is not the one the audit approved" in out
    said = " ".join(out.split())
    assert "the revocation of efefefefefef for 'video-switch' is gone from the database" in said
    with world.controller.engine.begin() as conn:
        conn.execute(delete(pins))
    code, out = _verify(world, tmp_path, points)
    assert "the pin of 'video-switch' the audit approved is gone" in " ".join(out.split())


def test_an_approval_written_into_the_database_is_reported(world: World, tmp_path: Path) -> None:
    # Self-heal keeps on what the approvals table says is approved; one set there by hand,
    # outside any decision, differs from what the signed audit left enabled.
    from controller.audit_state import state_problems
    from controller.store import approvals
    from tests.controller.conftest import DIGEST

    points = _logged(world, tmp_path)
    enable = "/v1/flags/video-switch/envs/production/enable"
    assert world.client.post(enable, content=world.envelope(), headers=world.as_("rita")).is_success
    world.client.post("/v1/flags/video-switch/envs/production/disable", headers=world.as_("rita"))
    chain.write_checkpoint(world.controller.engine, world.audit_key, points)
    assert state_problems(world.controller.engine) == []
    with world.controller.engine.begin() as conn:
        conn.execute(
            update(approvals)
            .where(approvals.c.env == "production")
            .values(enabled=True, digest=DIGEST)
        )
    code, out = _verify(world, tmp_path, points)
    assert code == 2
    said = " ".join(out.split())
    assert "'video-switch' is approved on in production for an artefact the audit did not" in said
