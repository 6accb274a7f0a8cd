"""A child that never outlives its parent: the kernel sends it SIGTERM when the parent dies,
even by kill -9 (Linux's PR_SET_PDEATHSIG). Elsewhere there is no such request, and the
parent's own cleanup is all there is.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def preexec_hook() -> Callable[[], None] | None:
    """A hook for `subprocess.Popen(preexec_fn=...)`, run in the child between fork and exec.
    libc is loaded here, in the parent; the child only makes two system calls."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    return lambda: _ask(prctl, parent)


def die_with(parent: int) -> None:
    """The same request made by a forked child that will not exec, for `parent` (its parent)."""
    prctl = _prctl()
    if prctl is not None:
        _ask(prctl, parent)


def _ask(prctl: Callable[..., int], parent: int) -> None:
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
