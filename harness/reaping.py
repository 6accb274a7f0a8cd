"""Reaping one's own child with the kernel's account of its CPU time (os.wait4): its own and
that of every process it waited for, so a child's cost is known whoever shares the machine."""

from __future__ import annotations

import os
import time

POLL_SECONDS = 0.05


def reap(pid: int, timeout: float | None) -> tuple[int, float] | None:
    """(exit code, CPU seconds) once the child `pid` has exited, reaped here; None if it still
    runs after `timeout` (None: no limit). ChildProcessError if it is not ours to reap."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return None
        time.sleep(POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining))
