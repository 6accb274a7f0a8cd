"""Carrying out the runs: a stand-in `chaperone run` (a few lines of Python in a real
subprocess) for the launcher, and a fake runner for the parallel dispatcher."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from harness.childenv import child_env
from harness.zygote_client import Zygote, start_zygote
from reports.json_report import load_report
from selftest.evidence import findings_by_suite
from selftest.launcher import Launcher, last_error, unexpected_exit
from selftest.outcome import RunOutcome
from selftest.plan import PlannedRun
from selftest.pool import dispatch
from selftest.scoring import score_fault
from tests.selftest.results import report_file, run

# Writes FAKE_REPORT into --out as report.json (if set), says FAKE_SAY, sleeps FAKE_SLEEP,
# and exits FAKE_EXIT; or kills itself with FAKE_SIGNAL. Records its argv and whether a
# support token reached it.
FAKE_RUN = """
import os, shutil, signal, sys, time
out = next(a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--out="))
with open(os.path.join(out, "argv.txt"), "w") as f:
    f.write("\\n".join(sys.argv[1:]))
    f.write("\\ntoken-seen=%s" % ("CHAPERONE_SUPPORT_TOKEN" in os.environ))
print(os.environ.get("FAKE_SAY", "running"), flush=True)
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
if os.environ.get("FAKE_REPORT"):
    shutil.copy(os.environ["FAKE_REPORT"], os.path.join(out, "report.json"))
if os.environ.get("FAKE_SIGNAL"):
    os.kill(os.getpid(), int(os.environ["FAKE_SIGNAL"]))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""
PLANNED = PlannedRun("fault", "recording-idor", ("recording-idor",), ("switch", "access"), 0)


class Launch(Protocol):
    def __call__(self, tmp_path: Path, timeout: float = 60.0, **fake: str) -> Launcher: ...


@pytest.fixture(scope="module")
def fake_zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    """A fork server that runs the stand-in as `python -m fake_run`."""
    code = tmp_path_factory.mktemp("fake-run")
    (code / "fake_run.py").write_text(FAKE_RUN)
    env = child_env({"PYTHONPATH": str(code)})
    with start_zygote(("fake_run",), (), env, code / "zygote.log") as zygote:
        yield zygote


@pytest.fixture(params=["subprocess", "fork-server"])
def launcher(request: pytest.FixtureRequest) -> Launch:
    """Launchers of the stand-in: as a subprocess, or through a fork server (a selftest's
    default), which must not change what a run's outcome says."""

    def launch(tmp_path: Path, timeout: float = 60.0, **fake: str) -> Launcher:
        env = child_env({f"FAKE_{k.upper()}": v for k, v in fake.items()})
        if request.param == "subprocess":
            return Launcher(tmp_path / "out", timeout, (sys.executable, "-c", FAKE_RUN), env)
        zygote: Zygote = request.getfixturevalue("fake_zygote")
        command = (sys.executable, "-m", "fake_run")
        return Launcher(tmp_path / "out", timeout, command, env, zygote=zygote.path)

    return launch


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A report.json as `chaperone run` writes it: findings from switch, access and a second
    seed of switch."""
    result = run(leaks={"switch": 2, "access": 3, "switch@seed=1": 1})
    return report_file(tmp_path / "fixture" / "report.json", result)


def test_per_suite_counts_come_from_report_json(report: Path) -> None:
    assert findings_by_suite(load_report(report)) == {"switch": 3, "access": 3}


def test_a_run_reads_its_report_back(tmp_path: Path, report: Path, launcher: Launch) -> None:
    outcome = launcher(tmp_path, report=str(report), exit="1")(PLANNED)
    assert outcome.infra_error is None and outcome.exit_code == 1
    assert outcome.cpu_seconds > 0  # from os.wait4, or from the fork server that reaped it
    assert outcome.result is not None and outcome.result.verdict.value == "fail"
    assert dict(score_fault([outcome]).by_suite) == {"switch": 3, "access": 3}
    where = Path(outcome.report_dir)
    assert where == (tmp_path / "out" / "faults" / "recording-idor" / "main").resolve()
    argv = (where / "argv.txt").read_text().splitlines()
    assert argv[:3] == ["--suite=switch", "--suite=access", "--faults=recording-idor"]
    assert "running" in (where / "chaperone.log").read_text()


def test_the_child_gets_no_credentials(
    tmp_path: Path, report: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAPERONE_SUPPORT_TOKEN", "s3cret")
    monkeypatch.setenv("FAKE_REPORT", str(report))
    monkeypatch.setenv("CHAPERONE_CHILD_ENV", "FAKE_*")  # the fake's knobs reach it
    plain = Launcher(tmp_path / "out", command=(sys.executable, "-c", FAKE_RUN))
    outcome = plain(PLANNED)
    assert outcome.result is not None
    assert "token-seen=False" in (Path(outcome.report_dir) / "argv.txt").read_text()


def test_no_report_is_an_infrastructure_error_with_the_childs_one_line(
    tmp_path: Path, launcher: Launch
) -> None:
    say = "chaperone: error: the local clinic exited with code 1: port in use"
    outcome = launcher(tmp_path, say=say, exit="2")(PLANNED)
    assert outcome.result is None and outcome.exit_code == 2
    assert outcome.infra_error == "the local clinic exited with code 1: port in use"


def test_a_stale_report_is_never_read_as_this_runs(
    tmp_path: Path, report: Path, launcher: Launch
) -> None:
    stale = tmp_path / "out" / PLANNED.directory / "report.json"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(report.read_bytes())
    outcome = launcher(tmp_path, exit="1")(PLANNED)
    assert outcome.result is None
    assert outcome.infra_error == "running"  # the log's last line: it wrote no report


def test_a_killed_run_is_an_infrastructure_error(
    tmp_path: Path, report: Path, launcher: Launch
) -> None:
    outcome = launcher(tmp_path, report=str(report), signal="9")(PLANNED)
    assert outcome.result is None and outcome.infra_error == "killed by signal 9"


def test_a_run_over_its_time_is_ended(tmp_path: Path, report: Path, launcher: Launch) -> None:
    started = time.monotonic()
    outcome = launcher(tmp_path, timeout=1.0, sleep="30", report=str(report))(PLANNED)
    assert time.monotonic() - started < 20
    assert outcome.result is None and outcome.infra_error == "did not finish within 1 s"


def test_stop_ends_a_live_run_and_refuses_new_ones(tmp_path: Path, launcher: Launch) -> None:
    runner = launcher(tmp_path, sleep="60")
    outcomes: list[RunOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(runner(PLANNED)))
    worker.start()
    log = tmp_path / "out" / PLANNED.directory / "chaperone.log"
    deadline = time.monotonic() + 20
    while "running" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the fake run never started"
        time.sleep(0.05)
    runner.stop()
    worker.join(20)
    assert not worker.is_alive()
    assert outcomes[0].infra_error == "interrupted"
    assert runner(PLANNED).infra_error == "interrupted"


def test_exit_codes_run_never_uses_are_not_runs() -> None:
    assert [unexpected_exit(c) for c in (0, 1, 2)] == [None, None, None]
    assert unexpected_exit(-15) == "killed by signal 15"
    assert unexpected_exit(139) == "exited with code 139"


def test_last_error_prefers_the_one_line_error(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("progress\nchaperone: error: no clinic (see x)\nbye\n")
    assert last_error(log) == "no clinic (see x)"
    assert last_error(tmp_path / "missing") == ""


# -- the dispatcher, with a fake runner ------------------------------------------------------


def planned(name: str, suites: tuple[str, ...] = ("switch",)) -> PlannedRun:
    return PlannedRun("fault", name, (name,), suites, 0)


class FakeRunner:
    """Each run takes `delays[name]` seconds; records start order and peak concurrency."""

    def __init__(self, delays: dict[str, float], broken: str = "") -> None:
        self.delays, self.broken = delays, broken
        self.started: list[str] = []
        self.running = 0
        self.peak = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, run: PlannedRun) -> RunOutcome:
        with self._lock:
            self.started.append(run.name)
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if run.name == self.broken:
                raise RuntimeError("runner bug")
            self.stopped.wait(self.delays[run.name])
            infra = "interrupted" if self.stopped.is_set() else None
            return RunOutcome(run, None if infra else object(), 1.0, "", infra)  # type: ignore[arg-type]
        finally:
            with self._lock:
                self.running -= 1

    def stop(self) -> None:
        self.stopped.set()


def test_outcomes_in_plan_order_progress_in_completion_order() -> None:
    runs = [planned("slow"), planned("quick"), planned("middle")]
    fake = FakeRunner({"slow": 0.6, "quick": 0.05, "middle": 0.3})
    seen: list[tuple[int, int, str]] = []
    outcomes = dispatch(runs, fake, 3, lambda k, n, o: seen.append((k, n, o.planned.name)))
    assert [o.planned.name for o in outcomes] == ["slow", "quick", "middle"]
    assert seen == [(1, 3, "quick"), (2, 3, "middle"), (3, 3, "slow")]


def test_at_most_jobs_runs_at_once_longest_first() -> None:
    runs = [
        planned("a"),
        planned("b", ("switch", "access", "stateful")),
        planned("c"),
        planned("d"),
    ]
    fake = FakeRunner(dict.fromkeys("abcd", 0.1))
    dispatch(runs, fake, 2, lambda k, n, o: None)
    assert fake.peak == 2
    assert fake.started[0] == "b"  # the costliest run starts first
    serial = FakeRunner(dict.fromkeys("abcd", 0.01))
    dispatch(runs, serial, 1, lambda k, n, o: None)
    assert serial.peak == 1 and serial.started == ["b", "a", "c", "d"]


def test_a_runner_that_raises_is_an_infrastructure_error_and_the_rest_still_run() -> None:
    runs = [planned("a"), planned("b"), planned("c")]
    fake = FakeRunner(dict.fromkeys("abc", 0.01), broken="b")
    outcomes = dispatch(runs, fake, 2, lambda k, n, o: None)
    assert outcomes[1].infra_error == "internal error: RuntimeError: runner bug"
    assert outcomes[0].infra_error is None and outcomes[2].infra_error is None


def test_ctrl_c_stops_the_live_runs_starts_no_more_and_re_raises() -> None:
    runs = [planned(name) for name in ("quick", "long1", "long2", "never")]
    fake = FakeRunner({"quick": 0.01, "long1": 30, "long2": 30, "never": 30})

    def interrupt(count: int, total: int, outcome: RunOutcome) -> None:
        raise KeyboardInterrupt  # Ctrl-C lands in the main thread while it waits

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        dispatch(runs, fake, 2, interrupt)
    assert time.monotonic() - started < 10
    assert fake.stopped.is_set() and fake.running == 0
    assert "never" not in fake.started


def test_ctrl_c_reaches_real_runs(tmp_path: Path, launcher: Launch) -> None:
    """The launcher's stop, through the dispatcher: no subprocess outlives an interrupt."""
    runner = launcher(tmp_path, sleep="60")
    pids: list[int] = []

    def interrupt(count: int, total: int, outcome: RunOutcome) -> None:
        raise KeyboardInterrupt

    def watch() -> None:
        log = tmp_path / "out" / "faults" / "a" / "main" / "chaperone.log"
        while "running" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.05)
        pids.extend(c.process.pid for c in list(runner._live))
        os.kill(os.getpid(), 2)  # SIGINT: Ctrl-C

    threading.Thread(target=watch, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        dispatch([planned("a"), planned("b")], runner, 1, interrupt)
    assert pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
