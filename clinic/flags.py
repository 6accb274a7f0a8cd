"""Feature-flag reading behind one small interface.

Two sources, both evaluated by UnleashClient so strategies behave as in production:
`FileFlagSource` bootstraps a client from a `/api/client/features` JSON file and rebuilds it
when the file's mtime changes (so a local flag backend can flip the flag by rewriting it);
`UnleashFlagSource` polls a real Unleash server. A server that cannot be reached leaves the
client without definitions, and an unknown flag evaluates to off.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from UnleashClient.cache import BaseCache
from UnleashClient.clients.unleash_client import UnleashClient
from UnleashClient.constants import FEATURES_URL
from UnleashClient.utils import InstanceAllowType

VIDEO_SWITCH = "video-switch"
APP_NAME = "chaperone-clinic"

log = logging.getLogger(__name__)


class FlagSource(Protocol):
    def is_enabled(self, flag: str, username: str) -> bool: ...

    def close(self) -> None: ...


class MemoryCache(BaseCache):
    """In-process, so the clinic never writes Unleash cache files outside its data dir."""

    def __init__(self, features: str | None = None) -> None:
        self._data: dict[str, Any] = {}
        if features is not None:
            self._data[FEATURES_URL] = features
            self.bootstrapped = True

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._data.update(data)

    def get(self, key: str, default: Any | None = None) -> Any:
        return self._data.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._data

    def destroy(self) -> None:
        self._data.clear()


def features_document(enabled: bool, flag: str = VIDEO_SWITCH) -> dict[str, Any]:
    """A minimal `/api/client/features` body holding one flag."""
    return {
        "version": 1,
        "features": [
            {
                "name": flag,
                "type": "release",
                "enabled": enabled,
                "strategies": [{"name": "default", "parameters": {}}],
            }
        ],
    }


def write_flags_file(path: Path, enabled: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(features_document(enabled), indent=2), encoding="utf-8")
    tmp.replace(path)


def _client(url: str, cache: BaseCache, **options: Any) -> UnleashClient:
    return UnleashClient(
        url,
        APP_NAME,
        cache=cache,
        disable_metrics=True,
        disable_registration=True,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        **options,
    )


class FileFlagSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._client: UnleashClient | None = None
        if not path.exists():
            # Staging default: the feature under test is on until a gate says otherwise.
            write_flags_file(path, enabled=True)

    def is_enabled(self, flag: str, username: str) -> bool:
        client = self._current()
        return client is not None and bool(client.is_enabled(flag, {"userId": username}))

    def _current(self) -> UnleashClient | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return self._client

    def _reload(self, stamp: tuple[int, int]) -> None:
        previous = self._client
        try:
            text = self.path.read_text(encoding="utf-8")
            json.loads(text)
        except (OSError, ValueError) as exc:
            # A half-written or broken file turns the flag off rather than guessing.
            log.warning("flags file %s unreadable (%s); flags are off", self.path, exc)
            self._client = None
        else:
            self._client = _client("http://127.0.0.1/unused", MemoryCache(text))
        finally:
            if previous is not None:
                previous.destroy()
        self._stamp = stamp

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.destroy()
            self._client, self._stamp = None, None


class UnleashFlagSource:
    def __init__(self, url: str, token: str | None, refresh_interval: int = 1) -> None:
        headers = {"Authorization": token} if token else {}
        self._client = _client(
            url.rstrip("/"),
            MemoryCache(),
            custom_headers=headers,
            refresh_interval=refresh_interval,
            request_timeout=2,
            request_retries=0,
        )
        self._client.initialize_client()

    def is_enabled(self, flag: str, username: str) -> bool:
        return bool(self._client.is_enabled(flag, {"userId": username}))

    def close(self) -> None:
        self._client.destroy()
