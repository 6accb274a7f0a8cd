"""Self-heal against a REAL Unleash 8.2 on PostgreSQL: a flag turned on through Unleash's admin
API, behind the controller's back, is off again within one interval."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from controller.store import audit, open_engine
from flags.backends.unleash import UnleashBackend
from flags.keys import new_signing_key
from tests.services.postgres import free_port, postgres
from tests.services.unleash import UnleashServer, unleash_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG = "drift-switch"
INTERVAL = 2.0


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


def test_a_flag_turned_on_in_unleash_is_off_within_one_interval(
    unleash: UnleashServer, tmp_path: Path
) -> None:
    direct = UnleashBackend(unleash.url, unleash.admin_token)
    direct.ensure_flag(FLAG)
    db = f"sqlite:///{tmp_path / 'controller.db'}"
    key = tmp_path / "controller.key"
    key.write_bytes(new_signing_key().pem())
    # The controller watches flags it knows: one with a (denied) approval row counts.
    from controller.decisions import _approve

    engine = open_engine(db)
    with engine.begin() as conn:
        _approve(conn, FLAG, "development", enabled=False, digest=None, build=None)
    port = free_port()
    env = {**os.environ, "UNLEASH_ADMIN_TOKEN": unleash.admin_token}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaperone",
            "controller",
            "serve",
            "--db",
            db,
            "--listen",
            f"127.0.0.1:{port}",
            "--backend",
            "unleash",
            "--unleash-url",
            unleash.url,
            "--audit-key",
            str(key),
            "--heal-interval",
            str(INTERVAL),
            "--env",
            "development",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/flags/{FLAG}", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        direct.enable(FLAG, "development")  # someone with the admin token, behind its back
        turned_on = time.monotonic()
        assert direct.status(FLAG, "development").enabled
        while direct.status(FLAG, "development").enabled:
            # one interval, plus a round's own time under a loaded 2-core machine
            assert time.monotonic() - turned_on < INTERVAL * 2 + 3, "still on"
            time.sleep(0.2)
        with engine.connect() as conn:
            rows = conn.execute(select(audit).where(audit.c.action == "drift-disabled")).all()
        assert [(row.flag, row.env) for row in rows] == [(FLAG, "development")]
        assert '"evidence":{' in rows[0].detail
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        direct.close()
