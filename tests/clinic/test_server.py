"""The real server: `clinic serve` as a subprocess, and SQLite under concurrent requests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from clinic.settings import ClinicSettings
from tests.clinic.server import running_clinic
from tests.clinic.world import PATIENTS, SUPPORT, SUPPORT_TOKEN, World, foreign, seed
from tests.services.postgres import free_port


@pytest.mark.integration
def test_serve_command_runs_a_clinic(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "clinic.cli",
        "serve",
        "--data-dir",
        str(tmp_path),
        "--port",
        str(port),
        "--faults",
        "recording-idor",
    ]
    env = {"CHAPERONE_SUPPORT_TOKEN": SUPPORT_TOKEN, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert health == {"status": "ok", "faults": ["recording-idor"]}
        state = httpx.get(f"http://127.0.0.1:{port}/_support/state", headers=SUPPORT)
        assert state.json() == {"patients": 0, "clinicians": 0, "appointments": 0, "recordings": 0}
        assert (tmp_path / "clinic.db").exists() and (tmp_path / "flags.json").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            return httpx.get(url).json()
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.slow
def test_sqlite_survives_concurrent_traffic(tmp_path: Path) -> None:
    settings = ClinicSettings(
        data_dir=tmp_path, support_token=SUPPORT_TOKEN, switch_negotiation_seconds=0.005
    )
    with (
        running_clinic(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        world = seed(client)
        for user in PATIENTS:
            world.headers(user)
        statuses: list[int] = []
        threads = [
            threading.Thread(target=_busy_patient, args=(world, user, statuses))
            for user in PATIENTS
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert statuses and max(statuses) < 500, sorted(set(statuses))
        for user in PATIENTS:
            assert not foreign(world.recordings(user), world, user)


def _busy_patient(world: World, user: str, statuses: list[int]) -> None:
    for step in range(12):
        mode = "video" if step % 2 == 0 else "audio"
        statuses.append(world.call(user, "join").status_code)
        statuses.append(world.call(user, "switch", mode).status_code)
        statuses.append(world.get(user, "/api/me/recordings").status_code)
        statuses.append(world.get(user, "/api/me/appointments").status_code)
