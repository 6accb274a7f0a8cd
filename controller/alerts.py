"""Alerts: something the controller must do and cannot (a flag it cannot turn off, a heal round
that failed, a database it cannot write). Never silent: each one is a log line, an audit entry
(when the database takes it) and an entry in the status API until it clears."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from controller.store import now_text

log = logging.getLogger("chaperone.controller")


@dataclass
class Alert:
    key: str
    message: str
    since: str
    count: int = 1
    flag: str | None = None
    env: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "message": self.message,
            "since": self.since,
            "count": self.count,
            "flag": self.flag,
            "env": self.env,
        }


class Alerts:
    """The open alerts of one controller process, by key (one per cause)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Alert] = {}

    def raise_(self, key: str, message: str, flag: str | None, env: str | None) -> bool:
        """Records the alert and logs it; True if it is new (the caller audits new ones)."""
        log.error("ALERT %s", message)
        with self._lock:
            known = self._open.get(key)
            if known is not None:
                known.count += 1
                known.message = message
                return False
            self._open[key] = Alert(key, message, now_text(), flag=flag, env=env)
            return True

    def clear(self, key: str) -> bool:
        with self._lock:
            return self._open.pop(key, None) is not None

    def open(self, flag: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                alert.as_dict()
                for alert in self._open.values()
                if flag is None or alert.flag == flag
            ]
