"""M2: kill -9 a local-backend writer at random moments, many times, with real processes: the
backend's state and the file the clinic reads never disagree, and each change is atomic (the
flag is as the last finished change left it, or as the interrupted one would have)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clinic.flags import FileFlagSource
from flags.backends.local import LocalBackend

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG, ENV = "video-switch", "development"
KILLS = 40

WRITER = textwrap.dedent(
    """
    import os, random, sys
    from pathlib import Path
    from flags.backends.local import LocalBackend

    state, journal = Path(sys.argv[1]), open(sys.argv[2], "a")
    backend = LocalBackend(state)
    rng = random.Random(int(sys.argv[3]))
    print("ready", flush=True)
    for n in range(100_000):
        on = rng.random() < 0.5
        journal.write(f"try {n} {int(on)}\\n"); journal.flush(); os.fsync(journal.fileno())
        if on:
            backend.enable("video-switch", "development", 100, "ab" * 32)
        else:
            backend.disable("video-switch", "development")
        journal.write(f"done {n} {int(on)}\\n"); journal.flush(); os.fsync(journal.fileno())
    """
)


def _allowed(journal: Path, before: bool) -> set[bool]:
    """The states a correct backend may show: as the last finished change left it (or as it
    was before this writer started), or as the change in flight would leave it."""
    whole = journal.read_text().split("\n")[:-1]  # a line cut by the kill is not counted
    lines = [line.split() for line in whole]
    done = [bool(int(v)) for kind, _, v in lines if kind == "done"]
    allowed = {done[-1] if done else before}
    if lines and lines[-1][0] == "try":
        allowed.add(bool(int(lines[-1][2])))
    return allowed


def _killed_mid_change(journal: Path) -> bool:
    whole = journal.read_text().split("\n")[:-1]
    return bool(whole) and whole[-1].startswith("try")


def _clinic_sees(path: Path) -> bool:
    source = FileFlagSource(path)
    try:
        return source.is_enabled(FLAG, "patient-1")
    finally:
        source.close()


def test_kill_9_at_random_points_never_leaves_the_files_disagreeing(tmp_path: Path) -> None:
    state = tmp_path / "flags-state.json"
    backend = LocalBackend(state)
    backend.declare_environments([ENV])
    rng, before, in_flight = random.Random(20_240_601), False, 0
    for round_no in range(KILLS):
        journal = tmp_path / f"journal-{round_no}.txt"
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), str(journal), str(round_no)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)

        recovered = LocalBackend(state).status(FLAG, ENV)  # opening is all the recovery there is
        json.loads(state.read_text())  # both files are whole JSON documents
        clinic_file = backend.clinic_file(ENV)
        json.loads(clinic_file.read_text())
        assert _clinic_sees(clinic_file) == recovered.enabled, f"kill {round_no}: files disagree"
        assert recovered.enabled in _allowed(journal, before), f"kill {round_no}: not atomic"
        before = recovered.enabled
        in_flight += _killed_mid_change(journal)
    assert in_flight >= KILLS // 4  # most kills really landed in the middle of a change
