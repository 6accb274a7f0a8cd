"""What the harness-side runner and the Locust processes agree on: environment variables, file
names, message names and the settings every Locust process runs with. Both sides import this
module, so it must stay free of Locust and gevent.

    harness ──env + world.json──► Locust master (or the one local process)
    master ──"chaperone:world" (world + settings)──► each worker, local or remote
    worker ──"chaperone:findings" / "chaperone:coverage"──► master ──files──► harness

Workers never read or write a file of the run: a remote worker (`chaperone load-worker`) shares
no disk with the harness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

ENV_LOCUST = "CHAPERONE_LOCUST"  # the Locust command line, when not this interpreter's
ENV_WORLD = "CHAPERONE_LOAD_WORLD"  # path of world.json (read by the master or local process)
ENV_FINDINGS = "CHAPERONE_LOAD_FINDINGS"  # directory for findings and coverage files
ENV_SETTINGS = "CHAPERONE_LOAD_SETTINGS"  # LoadSettings as JSON

WORLD_FILE = "world.json"
FINDINGS_DIR = "findings"
COVERAGE_FILE = "coverage.json"  # in FINDINGS_DIR, rewritten as rows arrive
FAILURE_FILE = "failure.txt"  # in FINDINGS_DIR: why the master judged the run untrustworthy
MEDIA_FILE = "media.json"  # in FINDINGS_DIR: what the media oracle decoded (MediaTally)
CSV_PREFIX = "locust"
JSON_FILE = "locust.json"
LOG_FILE = "locust.log"
# A Locust process of ours writes every thread's stack to its output (process-N.out) on this
# signal: what a run that overran its deadline was stuck in is then on record.
STACKS_SIGNAL = "SIGUSR1"

# Locust custom messages (environment.runner.register_message / send_message).
MSG_HELLO = "chaperone:hello"  # worker -> master: I am ready for the world (repeated until sent)
MSG_WORLD = "chaperone:world"  # master -> worker: {"world", "settings", "index"}
MSG_READY = "chaperone:ready"  # worker -> master: the world is built, users may run
MSG_FINDINGS = "chaperone:findings"  # worker -> master: {"findings": [finding json]}
MSG_COVERAGE = "chaperone:coverage"  # worker -> master: {"rows", "media"} (increments)
MSG_FAILED = "chaperone:failed"  # worker -> master: {"reason"}: this worker cannot take part

AGGREGATED = "Aggregated"


@dataclass(frozen=True, slots=True)
class DiscoveredRead:
    """A GET route from the OpenAPI document a load read names (workers never see the
    document, so the master sends what they need to fill it)."""

    route: str
    path: str
    params: tuple[str, ...] = ()
    query: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How the Locust processes run, beyond the world itself."""

    check_leaks: bool = True
    flow_users: int = 0  # users that take journeys (flows); the rest read
    wave_seconds: float = 1.0
    workers: int = 1  # processes sharing the users (local and remote workers; 1: local)
    discovered: tuple[DiscoveredRead, ...] = field(default_factory=tuple)
    # Users whose resources a suite running beside this one drives: no journey takes them.
    reserved: tuple[str, ...] = ()
    # Real calls (`--media real`): each journey user is a headless WebRTC caller too.
    media: bool = False
    # The share of a process's wall time its leak checks may take (plus a start allowance);
    # past it, recordings are not decoded and count as lost coverage.
    check_share: float = 0.5

    @property
    def flow_block(self) -> int:
        """Journey slots each process may use: its even share, rounded up."""
        return max(1, -(-self.flow_users // self.workers))

    @property
    def flow_slots(self) -> int:
        """All journey slots across processes (some may stay unused)."""
        return self.flow_block * self.workers

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadSettings:
        return cls(
            check_leaks=bool(data.get("check_leaks", True)),
            flow_users=int(data.get("flow_users", 0)),
            wave_seconds=float(data.get("wave_seconds", 1.0)),
            workers=max(1, int(data.get("workers", 1))),
            discovered=tuple(
                DiscoveredRead(
                    str(d["route"]),
                    str(d["path"]),
                    tuple(map(str, d.get("params", ()))),
                    tuple(map(str, d.get("query", ()))),
                )
                for d in data.get("discovered", ())
            ),
            reserved=tuple(map(str, data.get("reserved", ()))),
            media=bool(data.get("media", False)),
            check_share=float(data.get("check_share", 0.5)),
        )
