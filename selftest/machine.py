"""Where the figures were measured: they mean little without the machine."""

from __future__ import annotations

import os
import platform
import sys


def machine_facts() -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "implementation": sys.implementation.name,
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on a shared machine slows every run."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
