"""Session-wide settings every test directory shares."""

from __future__ import annotations

import os
import socket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# `run --target` listens for notifications, and `clinic serve` sends them, on fixed default
# ports (harness.sinks.DEFAULT_LISTEN): a test session moves both to ports of its own, so two
# sessions on one machine neither collide nor hear each other's clinics.
os.environ.setdefault("CHAPERONE_SINKS", f"127.0.0.1:{_free_port()},{_free_port()}")
