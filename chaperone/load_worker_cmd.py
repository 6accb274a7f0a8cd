"""`chaperone load-worker`: join a running gate's (or run's) load suite from another machine.

It starts a Locust worker of the load suite (as a subprocess: Locust never runs inside
Chaperone's own process) that connects to the master at --master HOST:PORT. It needs no file
of the run: the master sends it the world (the ownership model and the canaries) over Locust's
messages, and it sends the findings and coverage back the same way.
"""

from __future__ import annotations

import subprocess
from typing import Annotated

import typer

from harness.errors import InfrastructureError, UsageError
from load.runner import worker_command, worker_environment


def parse_master(master: str) -> tuple[str, int]:
    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(
            f"--master '{master}' is not HOST:PORT",
            "pass the host and port the master listens on, e.g. --master 10.0.0.5:5557",
        )
    return host.strip("[]"), int(port)


def load_worker_command(
    master: Annotated[
        str,
        typer.Option(
            help="HOST:PORT of the load master (`chaperone run/gate --suite load "
            "--expect-workers N --master-bind-host ...`; port 5557 by default).",
            show_default=False,
        ),
    ],
) -> None:
    """Join a running load suite as one more Locust worker.

    Start it on each machine after the gate or run has started its master with
    --expect-workers; it exits when the master ends the load run.

    Example:

      chaperone load-worker --master 10.0.0.5:5557
    """
    host, port = parse_master(master)
    argv = worker_command(host, port)
    try:
        process = subprocess.Popen(argv, env=worker_environment())
    except OSError as exc:
        raise InfrastructureError(
            f"cannot start the Locust worker ({argv[0]}: {exc.strerror or exc})",
            "install Chaperone with Locust on this machine",
        ) from None
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        raise
    if code != 0:
        raise InfrastructureError(
            f"the load worker exited with code {code}",
            f"check that the master at {host}:{port} is running and reachable",
        )
