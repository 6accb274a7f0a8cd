"""A caller that only logs what it was asked to do: the suites' and the load users' call
handling is tested against it, in order, without a media endpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.media_call import MediaCodes


@dataclass
class FakeCaller:
    log: list[str]
    codes: MediaCodes = field(
        default_factory=lambda: MediaCodes("Ada zq0123456789", "zq0123456789")
    )

    connected_at: float | None = None

    async def start(self) -> None:
        self.log.append("start")
        self.connected_at = time.monotonic()  # as a real caller's, once its connection is up

    async def connected(self) -> float | None:
        return time.monotonic()

    async def camera_on(self) -> None:
        self.log.append("camera_on")

    async def camera_off(self) -> None:
        self.log.append("camera_off")

    async def stop(self) -> None:
        self.log.append("stop")
