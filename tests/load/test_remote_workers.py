"""Remote Locust workers: `chaperone load-worker --master HOST:PORT` joins a running load suite.

The master (started by the suite, in its run directory) and two workers run as separate
processes; each worker has its own empty working directory and an environment with nothing of
the run in it, so the world can only reach them over Locust's messages, and their findings can
only come back the same way. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import engine
from harness.config import RunOptions, SloThresholds
from harness.events import CoverageReported, EngineError, Event, FindingRaised, SuiteFinished
from harness.local_clinic import free_port
from harness.models import Verdict
from load.suite import run_load
from tests.load.clinic_process import Clinic, clinic_process

pytestmark = pytest.mark.integration

LEAK_KINDS = {"canary-leak", "foreign-recording"}
WIDE_SLO = SloThresholds.model_validate(
    {
        "GET /api/me/recordings": {"p95_ms": 10_000},
        "GET /api/recordings/{recording_id}/media": {"p95_ms": 10_000},
        "max_error_rate": 0.01,
        "min_rps": 5,
    }
)
BARE_MASTER = Path(__file__).with_name("bare_master.py")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    with clinic_process(tmp_path_factory.mktemp("faulty"), faults="switch-race") as clinic:
        yield clinic


@pytest.fixture(autouse=True)
def load_suite_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "load_suite", lambda name: run_load)


def bare_environment() -> dict[str, str]:
    """Nothing of Chaperone's runs: a worker on another machine has none of it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAPERONE")}


def start_worker(home: Path, port: int) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True)
    with (home.parent / f"{home.name}.out").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chaperone", "load-worker", "--master", f"127.0.0.1:{port}"],
            cwd=home,
            env=bare_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -9


def test_two_remote_workers_catch_the_switch_race(faulty: Clinic, tmp_path: Path) -> None:
    port = free_port()
    homes = [tmp_path / "machine-a", tmp_path / "machine-b"]
    workers = [start_worker(home, port) for home in homes]
    options = RunOptions(
        suites=("load",),
        load_seconds=12,
        load_users=12,
        slo=WIDE_SLO,
        expect_workers=2,
        master_bind_host="127.0.0.1",
        master_bind_port=port,
        load_join_seconds=90,
    )
    request = engine.RunRequest(
        target=faulty.url, options=options, out_dir=tmp_path / "gate", support_token=faulty.token
    )
    try:
        events: list[Event] = list(engine.run(request))
    finally:
        codes = [stop(w) for w in workers]
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert errors == []
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    assert done.metrics["remote_workers"] == 2
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert {f.kind for f in findings} & LEAK_KINDS, done.message
    assert done.verdict is Verdict.FAIL
    # Both workers judged responses and sent what they found to the master, which merged it.
    merged = sorted((tmp_path / "gate" / "load" / "findings").glob("findings-worker-*.jsonl"))
    assert [f.name for f in merged] == ["findings-worker-0.jsonl", "findings-worker-1.jsonl"]
    assert all(f.read_text().strip() for f in merged)
    [coverage] = [e for e in events if isinstance(e, CoverageReported)]
    assert sum(r.checked for r in coverage.rows) > 50
    # The workers wrote nothing where they ran, and left cleanly when the master ended the run.
    assert [list(home.iterdir()) for home in homes] == [[], []]
    assert codes == [0, 0], [(h.parent / f"{h.name}.out").read_text()[-800:] for h in homes]


def test_a_remote_worker_that_never_joins_is_an_error(faulty: Clinic, tmp_path: Path) -> None:
    options = RunOptions(
        suites=("load",),
        load_seconds=5,
        load_users=4,
        slo=WIDE_SLO,
        expect_workers=1,
        master_bind_port=free_port(),
        load_join_seconds=3,
    )
    request = engine.RunRequest(
        target=faulty.url, options=options, out_dir=tmp_path, support_token=faulty.token
    )
    events = list(engine.run(request))
    [error] = [e.message for e in events if isinstance(e, EngineError)]
    assert "not all 1 load worker(s) joined the master at 127.0.0.1:" in error
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    assert done.verdict is Verdict.ERROR


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        return


def test_a_worker_with_no_world_sends_no_traffic(tmp_path: Path) -> None:
    """A master that never sends the world (a plain Locust master with the same user class
    names) gets a chaperone worker that spawns its users and sends nothing at all."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}"
    port = free_port()
    worker = start_worker(tmp_path / "machine", port)
    master = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(BARE_MASTER),
            "--master",
            "--headless",
            *("--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)),
            *("--expect-workers", "1", "--expect-workers-max-wait", "60"),
            *("-u", "4", "-r", "4", "-t", "5s", "-H", target),
            "ReadUser",
            "FlowUser",
        ],
        cwd=tmp_path,
        env=bare_environment(),
        capture_output=True,
        timeout=120,
    )
    code = stop(worker)
    server.shutdown()
    server.server_close()
    log = master.stderr.decode(errors="replace")
    assert "(4 total users)" in log, log[-800:]  # the worker did spawn its users
    assert _Counting.hits == 0
    assert code == 0
    assert list((tmp_path / "machine").iterdir()) == []


def test_load_worker_refuses_a_bad_master_address() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", "load-worker", "--master", "nowhere"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"--master 'nowhere' is not HOST:PORT" in done.stderr + done.stdout
    assert b"Traceback" not in done.stderr + done.stdout
