"""Fail closed on a full disk (issue 25: "the kill switch fails with a traceback and leaves the
flag on"). The database really fills: SQLite's max_page_count is pinned at the file's size and
the free pages are used up, so every write fails with SQLITE_FULL ("database or disk is full"),
the error a full disk gives. Nothing is mocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from controller import audit
from controller.decisions import Controller
from controller.guard import Watcher
from flags.watch import ProbeResult
from tests.controller.conftest import FLAG, World
from tests.watch.fakes import ScriptedProbe, leak

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"
DISABLE = f"/v1/flags/{FLAG}/envs/production/disable"


def fill(controller: Controller) -> None:
    """Makes the database full: no page may be added and every free byte is taken, in the
    audit table's pages too (signed rows, so the log stays intact)."""
    engine = controller.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (junk BLOB)")
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA max_page_count = {int(pages or 0) + 8}")
        cursor.close()

    engine.dispose()  # connections opened from now on carry the cap
    for size in (4000, 1000, 200, 40, 8, 1):
        while True:
            try:
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO filler VALUES (zeroblob(:n))"), {"n": size})
            except OperationalError as exc:
                assert "full" in str(exc)
                break
    for size in (2000, 500, 100, 1):
        while True:
            try:
                with controller.decision() as conn:
                    audit.append(conn, controller.audit_key, "test", "pad", pad="x" * size)
            except OperationalError as exc:
                assert "full" in str(exc)
                break
    with pytest.raises(OperationalError, match="full"), engine.begin() as conn:
        conn.execute(text("INSERT INTO filler VALUES (zeroblob(1))"))


def _enabled(world: World) -> None:
    world.pin()
    enabled = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert enabled.status_code == 200, enabled.text
    assert world.on()


def test_full_disk_kill_switch_turns_the_flag_off_with_a_one_line_reason(world: World) -> None:
    _enabled(world)
    fill(world.controller)
    answer = world.client.post(DISABLE, json={"reason": "pull it"}, headers=world.as_("rita"))

    assert answer.status_code == 503
    problem = answer.json()["error"]
    assert "\n" not in problem and "Traceback" not in problem
    assert "database or disk is full" in problem
    assert f"'{FLAG}' turned off in production" in problem
    assert not world.on()


def test_full_disk_during_enable_leaves_the_flag_off(world: World) -> None:
    world.pin()
    fill(world.controller)
    answer = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))

    assert answer.status_code == 503
    assert "database write failed" in answer.json()["error"]
    assert not world.on()


def test_full_disk_watch_leak_still_turns_the_flag_off(world: World, tmp_path: Path) -> None:
    _enabled(world)
    fill(world.controller)
    probe = ScriptedProbe([], {1: ProbeResult((leak(),))})
    watcher = Watcher(world.controller, tmp_path / "incidents", lambda _f, _e: probe)
    watcher.probe_all()

    assert not world.on()
    [alert] = world.controller.alerts.open(FLAG)
    assert "database or disk is full" in alert["message"]
    assert "turned off in production" in alert["message"]
    assert "\n" not in alert["message"]


def test_a_failed_store_write_during_revoke_turns_the_flag_off(world: World) -> None:
    _enabled(world)
    fill(world.controller)
    answer = world.client.post(
        f"/v1/flags/{FLAG}/revocations", json={"digest": "ab" * 32}, headers=world.as_("rita")
    )

    assert answer.status_code == 503
    assert "turned off in production" in answer.json()["error"]
    assert not world.on()
