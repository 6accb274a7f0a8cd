"""`chaperone watch` end to end: a real local clinic subprocess reading the local backend's
flags file, driven by the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from flags import audit
from flags.backends.local import LocalBackend
from flags.policy import bind_policy
from flags.verdict import build_digest_of, write_verdict
from flags.watch import SwitchProbe, WatchFinished, WatchPlan, watch
from harness.local_clinic import local_clinic, stop
from tests.flags.conftest import PUBLIC_PEM, SIGNING, make_verdict, write_policy

pytestmark = pytest.mark.integration

FLAG, ENV = "video-switch", "development"


def chaperone_watch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "chaperone", "watch", "--env", ENV]
    argv += ["--state", str(tmp_path / "flags-state.json"), "--out", str(tmp_path / "out")]
    env = {**os.environ, "CHAPERONE_GATE_PUBLIC_KEY": PUBLIC_PEM}
    return subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        check=False,
        env=env,
    )


BUILD = "watched-build"


def enabled_backend(tmp_path: Path, rollout: int) -> LocalBackend:
    backend = LocalBackend(tmp_path / "flags-state.json")
    backend.enable(FLAG, ENV, rollout, build_digest_of(BUILD))
    return backend


def outcomes(tmp_path: Path) -> list[audit.AuditEntry]:
    return [e for e in audit.read(tmp_path / "audit.jsonl", FLAG) if e.phase != "intent"]


def test_leak_disables_the_flag_and_writes_the_incident(tmp_path: Path) -> None:
    backend = enabled_backend(tmp_path, 100)
    done = chaperone_watch(
        tmp_path,
        "--faults",
        "switch-recording-misattribution",
        "--interval",
        "0.5",
        "--rounds",
        "4",
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "LEAK" in done.stdout and "auto-disabled" in done.stdout
    assert backend.status(FLAG, ENV).enabled is False
    assert backend.revoked(FLAG) == {build_digest_of(BUILD)}  # H4: its verdict is dead too
    clinic_view = json.loads(backend.clinic_file(ENV).read_text())
    assert [f["enabled"] for f in clinic_view["features"] if f["name"] == FLAG] == [False]

    incident = json.loads((tmp_path / "out" / "incident.json").read_text())
    times = [datetime.fromisoformat(incident[k]) for k in ("enabled_at", "detected_at")]
    times.append(datetime.fromisoformat(incident["disabled_at"]))
    assert times == sorted(times)
    assert incident["exposures"], "a misattributed recording must name whose data reached whom"
    for exposure in incident["exposures"]:
        assert exposure["owner"] != exposure["observer"]
        assert exposure["surfaces"] and exposure["what"] and exposure["first_seen"]
    assert "Exposures" in (tmp_path / "out" / "incident.md").read_text()

    entry, revoked = outcomes(tmp_path)
    assert (entry.action, entry.claimed_actor, entry.result) == (
        "auto-disable",
        "chaperone-watch",
        "done",
    )
    assert "leak in watch round 1" in entry.reason
    assert (revoked.action, revoked.build_digest) == ("revoke", build_digest_of(BUILD))


def test_clean_clinic_is_raised_through_the_pinned_stages(tmp_path: Path) -> None:
    stages = [{"percent": 50, "watch_seconds": 600}, {"percent": 100, "watch_seconds": 600}]
    bound = bind_policy(write_policy(tmp_path / "policy", rollout_stages=stages))
    backend = enabled_backend(tmp_path, 50)
    backend.set_pin(FLAG, bound.digest, bound.policy.environments)
    verdict = write_verdict(make_verdict(bound, build=BUILD), tmp_path / "verdict.json", SIGNING)

    done = chaperone_watch(
        tmp_path,
        "--stages",
        "--verdict",
        str(verdict),
        "--stage-seconds-scale",
        "0.002",
        "--interval",
        "0.5",
        "--duration",
        "90",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "rollout raised 50% -> 100%" in done.stdout
    assert backend.status(FLAG, ENV).enabled is True
    assert backend.status(FLAG, ENV).rollout == 100
    # The clinic really follows the flag: at 100% no patient is refused the switch.
    rounds = [line for line in done.stdout.splitlines() if line.startswith("round ")]
    full = [line for line in rounds if "rollout 100%" in line]
    assert full and all("clean" in line and " 0 flag-off" in line for line in full)
    assert [(e.action, e.rollout) for e in outcomes(tmp_path)] == [("raise-rollout", 100)]
    assert not (tmp_path / "out" / "incident.json").exists()


def test_target_dying_mid_watch_disables_the_flag(tmp_path: Path) -> None:
    backend = enabled_backend(tmp_path, 100)
    plan = WatchPlan(
        flag=FLAG,
        env=ENV,
        interval=0.1,
        audit_path=tmp_path / "audit.jsonl",
        backend_name="local",
        rounds=3,
    )
    with local_clinic(flags_file=backend.clinic_file(ENV)) as clinic:
        probe = SwitchProbe(clinic.url, clinic.support_token)
        try:
            events = list(watch(plan, probe, backend, sleep=lambda _s: stop(clinic.process)))
        finally:
            probe.close()

    assert [type(e).__name__ for e in events[-3:]] == ["RoundDone", "TargetLost", "WatchFinished"]
    assert events[-1] == WatchFinished("error", 2, 100)
    assert backend.status(FLAG, ENV).enabled is False
    [entry] = outcomes(tmp_path)
    assert entry.action == "auto-disable" and "target unreachable" in entry.reason
