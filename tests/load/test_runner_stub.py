"""The suite end to end with Locust replaced by a stub process that writes Locust's output files.

Covers SLO gating and parsing, findings and coverage hand-over, the master/worker command lines,
and every way a run can fail to happen.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.config import RunOptions, SloThresholds
from harness.coverage import Coverage
from harness.errors import (
    Cancelled,
    CancelReason,
    ConfigError,
    InfrastructureError,
    TargetUnreachable,
)
from harness.events import CaseFinished, Event, FindingRaised, SuiteFinished
from harness.models import Finding, Severity, Surface, SurfaceKind, Verdict
from harness.suites import RunContext
from load import runner
from load.call_loop import CLOSE_BOUND
from load.contract import (
    ENV_FINDINGS,
    ENV_LOCUST,
    ENV_SETTINGS,
    ENV_WORLD,
    DiscoveredRead,
    LoadSettings,
)
from load.suite import plan_for, run_load
from tests.load.locust_csv import MEDIA, RECORDINGS, write_stats
from tests.load.worlds import memory_world, vampi_profile

FAKE = Path(__file__).with_name("fake_locust.py")
SLO = SloThresholds.model_validate(
    {RECORDINGS: {"p95_ms": 500}, MEDIA: {"p95_ms": 500}, "max_error_rate": 0.05, "min_rps": 10}
)


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fake_locust(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_LOCUST, f"{sys.executable} {FAKE}")
    monkeypatch.setenv("FAKE_FIXTURES", str(tmp_path / "fixtures"))
    monkeypatch.setenv("CHAPERONE_CHILD_ENV", "FAKE_*")  # the fake's knobs reach it
    for name in (
        "FAKE_FINDING",
        "FAKE_SLEEP",
        "FAKE_EXIT",
        "FAKE_COVERAGE",
        "FAKE_FAILURE",
        "FAKE_LOG",
        "FAKE_ARGV",
    ):
        monkeypatch.delenv(name, raising=False)
    write_stats(tmp_path / "fixtures")


def _context(target: str, out: Path, **options: object) -> RunContext:
    world = memory_world()
    opts = RunOptions(suites=("load",), load_seconds=1, load_users=6, slo=SLO, **options)  # type: ignore[arg-type]
    coverage = Coverage()
    coverage.suite = "load"  # as the engine labels it
    return RunContext(
        target=target,
        world=world,
        options=opts,
        out_dir=out,
        judge=lambda obs: [],
        adapter=SimpleNamespace(coverage=coverage),  # type: ignore[arg-type]
        loop=None,  # type: ignore[arg-type]
        reseed=lambda: world,
    )


def _finding_line() -> str:
    finding = Finding(
        check="canary-leak",
        kind="canary-leak",
        severity=Severity.CRITICAL,
        message="p1 received data of patient p0",
        observer="p1",
        surface=Surface(SurfaceKind.JSON, "GET /api/me/recordings"),
        step="load/p1/GET /api/me/recordings",
        time=time.time(),
        owner="p0",
    )
    return json.dumps(finding.to_json())


def _run(ctx: RunContext) -> list[Event]:
    return list(run_load(ctx))


def _finished(events: list[Event]) -> SuiteFinished:
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    return done


def test_clean_run_within_slo_passes(target: str, tmp_path: Path) -> None:
    events = _run(_context(target, tmp_path / "out"))
    done = _finished(events)
    cases = [e for e in events if isinstance(e, CaseFinished)]
    assert done.verdict is Verdict.PASS, done.message
    assert len(cases) == 5 and all(c.verdict is Verdict.PASS for c in cases)
    assert done.metrics["requests"] == 1000
    assert [p["t"] for p in done.metrics["series"]] == [0.0, 2.0, 3.0]  # type: ignore[union-attr]
    assert any(a.endswith("locust_stats.csv") for a in done.artifacts)


def test_findings_from_workers_fail_the_suite(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FINDING", _finding_line())
    events = _run(_context(target, tmp_path / "out"))
    raised = [e for e in events if isinstance(e, FindingRaised)]
    assert [(e.finding.kind, e.finding.owner, e.finding.suite) for e in raised] == [
        ("canary-leak", "p0", "load")
    ]
    leak_case = next(e for e in events if isinstance(e, CaseFinished))
    assert leak_case.verdict is Verdict.FAIL
    assert leak_case.finding_keys == (raised[0].finding.key,)
    assert _finished(events).verdict is Verdict.FAIL


def test_slo_breach_fails_with_numbers(target: str, tmp_path: Path) -> None:
    write_stats(tmp_path / "fixtures", list_p95=2500, failures=200, requests=1000)
    events = _run(_context(target, tmp_path / "out"))
    failed = [e for e in events if isinstance(e, CaseFinished) and e.verdict is Verdict.FAIL]
    assert [c.message for c in failed] == [
        f"p95 of {RECORDINGS} 2500 ms breaches 500 ms",
        "error rate 20.00% (200/1000 failed) breaches 5.00%",
    ]
    assert _finished(events).verdict is Verdict.FAIL


def test_locust_crash_is_an_error_after_its_findings(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FINDING", _finding_line())
    monkeypatch.setenv("FAKE_EXIT", "3")
    seen: list[Event] = []
    with pytest.raises(InfrastructureError, match="Locust exited with code 3"):
        for event in run_load(_context(target, tmp_path / "out")):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["SuiteStarted", "FindingRaised"]


def test_missing_locust_is_an_error(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_LOCUST, str(tmp_path / "no-such-locust"))
    with pytest.raises(InfrastructureError, match="cannot start Locust"):
        _run(_context(target, tmp_path / "out"))


def test_dead_target_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "30")
    monkeypatch.setattr(runner, "_HEALTH_EVERY", 0.2)
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match="stopped answering"):
        _run(_context(dead, tmp_path / "out"))
    assert time.monotonic() - started < 15


def test_overrunning_locust_is_killed_after_it_wrote_its_stacks(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "60")
    monkeypatch.setenv("FAKE_LOG", "[2026] INFO/locust.main: --run-time limit reached")
    monkeypatch.setattr(runner, "_STARTUP_GRACE", 0.0)
    monkeypatch.setattr(runner, "_STOP_GRACE", 1.0)
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as raised:
        _run(_context(target, tmp_path / "out"))
    assert str(raised.value).startswith(
        "Locust did not finish within 2 s (its last log line: [2026] INFO/locust.main: "
        "--run-time limit reached)"
    )
    assert "process-0.out" in str(raised.value)
    # The fake registers the locustfile's handler: the signal asked for stacks, not an exit.
    stacks = (tmp_path / "out" / "load" / "process-0.out").read_text(encoding="utf-8")
    assert "most recent call first" in stacks and "fake_locust.py" in stacks
    assert time.monotonic() - started < 15


def test_a_deadline_with_real_calls_allows_both_call_loops_to_close() -> None:
    """The locustfile closes the calls' loop and then the judge's, each within CLOSE_BOUND."""
    plain = runner.LoadPlan(target="http://t", users=4, seconds=40)
    media = replace(plain, media=True)
    assert media.deadline - plain.deadline >= 2 * CLOSE_BOUND


@pytest.mark.parametrize("reason", [CancelReason.TIMEOUT, CancelReason.INTERRUPT])
def test_cancel_stops_locust_and_raises_its_reason(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: CancelReason
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "60")
    ctx = _context(target, tmp_path / "out")
    threading.Timer(1.0, ctx.cancel.cancel, args=(reason,)).start()
    started = time.monotonic()
    seen: list[Event] = []
    with pytest.raises(Cancelled) as raised:
        for event in run_load(ctx):
            seen.append(event)
    assert raised.value.reason is reason
    assert not any(isinstance(e, SuiteFinished) for e in seen)  # no verdict: never finished
    assert time.monotonic() - started < 15


def test_plan_splits_users_between_journeys_and_reads() -> None:
    world = memory_world()  # 4 patients x 2 appointments
    plan = plan_for("http://t", RunOptions(load_users=12), world)
    assert (plan.users, plan.flow_users) == (12, 6)
    assert plan.user_classes == ("ReadUser", "FlowUser")
    assert plan_for("http://t", RunOptions(load_users=3), world).flow_users == 2
    assert plan_for("http://t", RunOptions(load_users=40), world).flow_users == 8  # appointments
    one = plan_for("http://t", RunOptions(load_users=1), world)
    assert (one.flow_users, one.user_classes) == (0, ("ReadUser",))
    assert plan.health == "/healthz"


def test_a_profile_with_reads_only_runs_readers_and_checks_its_own_health() -> None:
    world = memory_world(profile=vampi_profile())
    discovered = (
        DiscoveredRead("GET /me", "/me"),
        DiscoveredRead("GET /users/v1/_debug", "/users/v1/_debug"),
    )
    plan = plan_for("http://t", RunOptions(load_users=8), world, discovered=discovered)
    assert (plan.flow_users, plan.user_classes) == (0, ("ReadUser",))
    assert plan.health == "/"


def test_a_profile_mistake_stops_the_suite_before_locust(target: str, tmp_path: Path) -> None:
    ctx = _context(target, tmp_path / "out")
    document = {**ctx.world.profile, "load": {"reads": [{"read": "GET /api/me/recording"}]}}
    ctx.reseed = lambda: replace(ctx.world, profile=document)
    with pytest.raises(ConfigError, match="did you mean 'GET /api/me/recordings'"):
        _run(ctx)
    assert not (tmp_path / "out" / "load" / "process-0.out").exists()


def test_workers_get_one_master_and_n_workers(tmp_path: Path) -> None:
    plan = runner.LoadPlan(target="http://t", users=4, seconds=5, workers=2, flow_users=2)
    master, *workers = runner.commands(plan, tmp_path)
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "2"
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    port = master[master.index("--master-bind-port") + 1]
    assert len(workers) == 2
    assert all("--worker" in w and w[w.index("--master-port") + 1] == port for w in workers)
    assert master[master.index("-t") + 1] == "5s"
    assert master[-2:] == ["ReadUser", "FlowUser"]


def test_remote_workers_are_expected_on_the_bind_address(tmp_path: Path) -> None:
    plan = runner.LoadPlan(
        target="http://t", users=4, seconds=5, workers=1, expect_workers=2, master_host="10.1.2.3"
    )
    master, worker = runner.commands(plan, tmp_path)
    assert master[master.index("--expect-workers") + 1] == "3"
    assert master[master.index("--master-bind-host") + 1] == "10.1.2.3"
    assert master[master.index("--master-bind-port") + 1] == "5557"  # Locust's usual port
    assert worker[worker.index("--master-host") + 1] == "10.1.2.3"
    assert plan.settings().workers == 3


def test_only_the_master_gets_the_run_workers_get_nothing(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers learn the world from the master's messages: no path, no setting, no directory."""
    record = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ARGV", str(record))
    monkeypatch.setenv("FAKE_SLEEP", "3")  # every process starts before the master is done
    _run(_context(target, tmp_path / "out", workers=2))
    started = [json.loads(line) for line in record.read_text().splitlines()]
    [master] = [p for p in started if "--master" in p["argv"]]
    workers = [p for p in started if "--worker" in p["argv"]]
    assert set(master["env"]) == {ENV_WORLD, ENV_FINDINGS, ENV_SETTINGS}
    settings = LoadSettings.from_json(json.loads(master["env"][ENV_SETTINGS]))
    assert (settings.workers, settings.flow_users, settings.check_leaks) == (2, 3, True)
    assert len(workers) == 2
    for worker in workers:
        assert worker["env"] == {}
        assert Path(worker["cwd"]) != tmp_path / "out" / "load"
        assert list(Path(worker["cwd"]).iterdir()) == []
        assert not any("world" in arg or "findings" in arg for arg in worker["argv"])


def test_coverage_from_the_locust_side_joins_the_runs(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {
            "route": "GET /api/me/recordings",
            "observer": "p0",
            "owner": "p0",
            "checked": 7,
            "lost": 2,
            "reasons": [["HTTP 503", 2]],
        },
    ]
    monkeypatch.setenv("FAKE_COVERAGE", json.dumps({"rows": rows}))
    ctx = _context(target, tmp_path / "out")
    _run(ctx)
    [row] = ctx.adapter.coverage.rows("load")
    assert (row.route, row.checked, row.lost, row.reasons) == (
        "GET /api/me/recordings",
        7,
        2,
        (("HTTP 503", 2),),
    )


def test_coverage_is_kept_when_locust_fails(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"route": "GET /x", "observer": "p0", "owner": "p0", "checked": 1, "lost": 0}]
    monkeypatch.setenv("FAKE_COVERAGE", json.dumps({"rows": rows}))
    monkeypatch.setenv("FAKE_EXIT", "3")
    ctx = _context(target, tmp_path / "out")
    with pytest.raises(InfrastructureError):
        _run(ctx)
    assert [r.checked for r in ctx.adapter.coverage.rows("load")] == [1]


def test_a_worker_that_never_joined_is_an_error(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FAKE_LOG", "[2026] ERROR/locust.main: Gave up waiting for workers to connect"
    )
    monkeypatch.setenv("FAKE_EXIT", "1")
    monkeypatch.setenv("FAKE_FINDING", _finding_line())
    seen: list[Event] = []
    with pytest.raises(InfrastructureError, match=r"not all 2 load worker\(s\) joined the master"):
        for event in run_load(_context(target, tmp_path / "out", expect_workers=2)):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["SuiteStarted", "FindingRaised"]


def test_a_worker_the_master_lost_is_an_error(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAILURE", "load worker 1 stopped answering during the run")
    monkeypatch.setenv("FAKE_EXIT", "3")
    with pytest.raises(InfrastructureError, match="load worker 1 stopped answering"):
        _run(_context(target, tmp_path / "out", workers=2))


def test_a_reused_directory_never_reports_the_previous_run(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FINDING", _finding_line())
    assert _finished(_run(_context(target, tmp_path / "out"))).verdict is Verdict.FAIL
    monkeypatch.delenv("FAKE_FINDING")
    monkeypatch.setenv("FAKE_FIXTURES", str(tmp_path / "nowhere"))  # this run writes no CSVs
    with pytest.raises(InfrastructureError, match="Locust wrote no statistics"):
        _run(_context(target, tmp_path / "out"))


def test_cli_load_master_options_are_checked_before_any_traffic(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaperone",
            "run",
            "--suite",
            "load",
            "--expect-workers",
            "-1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=120,
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 2
    assert "--expect-workers: Input should be greater than or equal to 0" in output
    assert "Traceback" not in output
