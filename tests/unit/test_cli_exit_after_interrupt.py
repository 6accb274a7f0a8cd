"""A Ctrl-C that chaperone handled must not turn its exit code into "killed by SIGINT".

CPython notes a KeyboardInterrupt that leaves exec()'d code as unhandled even when a caller
catches it, and an interpreter started with `-m` then re-raises SIGINT at exit: the Ctrl-C'd
gate that printed its verdict and exited -2 (tests/gate/test_gate_ctrl_c_loop.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_handled_interrupt_still_exits_2_under_dash_m() -> None:
    probe = [sys.executable, "-m", "tests.unit.cli_interrupt_probe", "keys"]
    done = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
