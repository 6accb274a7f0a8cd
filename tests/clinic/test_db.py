"""The clinic's SQLite writers: queued in the process before SQLite's own lock, every write
commits, and a failed write neither commits nor keeps the queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clinic.db import Database
from clinic.models import User


def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'clinic.db'}")
    db.create_schema()
    return db


def add_user(db: Database, name: str) -> None:
    with db.write() as session:
        session.add(User(username=name, password_hash="x", role="patient", display_name=name))


def test_concurrent_writers_all_commit(tmp_path: Path) -> None:
    db = database(tmp_path)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(25):
                add_user(db, f"u{k}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 200
    db.dispose()


def test_a_failed_write_rolls_back_and_frees_the_queue(tmp_path: Path) -> None:
    db = database(tmp_path)
    with pytest.raises(RuntimeError), db.write() as session:
        session.add(User(username="lost", password_hash="x", role="patient", display_name="lost"))
        session.flush()
        raise RuntimeError("the handler failed")
    done = threading.Event()

    def next_write() -> None:
        add_user(db, "next")
        done.set()

    # In a thread, so a queue left held fails this test instead of hanging it.
    worker = threading.Thread(target=next_write, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done.is_set(), "the failed write kept the writers' queue"
    with db.read() as session:
        names = set(session.scalars(select(User.username)))
    assert names == {"next"}
    db.dispose()
