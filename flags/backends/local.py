"""A flag backend in a local JSON file, for development and for the reference clinic.

Every change happens under an exclusive flock on a sidecar lock file, and the new state is
written to a temporary file and os.replace()d into place, so a crash or a concurrent writer can
never leave a half-written state. Each change also re-renders the clinic's bootstrap file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flags.backends import bootstrap
from flags.backends.base import BackendEvent, FlagState
from harness.errors import UsageError

DEFAULT_STATE = Path(".chaperone") / "flags-state.json"

State = dict[str, Any]


class LocalBackend:
    name = "local"

    def __init__(self, state_path: Path, bootstrap_out: Path | None = None) -> None:
        self.state_path = state_path
        self.bootstrap_out = bootstrap_out or state_path.with_name("flags.json")

    def status(self, flag: str, env: str) -> FlagState:
        return _state_of(self._read(), flag, env)

    def ensure_flag(self, flag: str) -> None:
        with self._changing() as state:
            _flag_entry(state, flag)

    def enable(self, flag: str, env: str, rollout: int = 100) -> FlagState:
        return self._set(flag, env, "enable", enabled=True, rollout=rollout)

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState:
        return self._set(flag, env, "set-rollout", enabled=None, rollout=percent)

    def disable(self, flag: str, env: str) -> FlagState:
        return self._set(flag, env, "disable", enabled=False, rollout=None)

    def history(self, flag: str) -> list[BackendEvent]:
        entry = self._read().get("flags", {}).get(flag, {})
        return [_event(flag, raw) for raw in entry.get("events", [])]

    def _set(
        self, flag: str, env: str, action: str, *, enabled: bool | None, rollout: int | None
    ) -> FlagState:
        with self._changing() as state:
            envs = _flag_entry(state, flag)["environments"]
            current = envs.setdefault(env, {"enabled": False, "rollout": 100})
            if enabled is not None:
                current["enabled"] = enabled
            if rollout is not None:
                current["rollout"] = rollout
            _flag_entry(state, flag)["events"].append(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "action": action,
                    "env": env,
                    "enabled": current["enabled"],
                    "rollout": current["rollout"],
                }
            )
            result = _state_of(state, flag, env)
            bootstrap.write(self.bootstrap_out, _all_states(state, env))
        return result

    def _read(self) -> State:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": 1, "flags": {}}
        except OSError as exc:
            raise UsageError(
                f"cannot read flag state {self.state_path}: {exc.strerror}",
                "pass --state with a readable file",
            ) from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError:
            raise UsageError(
                f"flag state {self.state_path} is not valid JSON",
                "restore it or delete it to start with every flag off",
            ) from None
        if not isinstance(state, dict) or not isinstance(state.get("flags"), dict):
            raise UsageError(
                f"flag state {self.state_path} has no 'flags' object",
                "restore it or delete it to start with every flag off",
            )
        return state

    @contextlib.contextmanager
    def _changing(self) -> Iterator[State]:
        with self._locked():
            state = self._read()
            yield state
            self._write(state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise UsageError(
                f"cannot lock flag state {lock_path}: {exc.strerror}",
                "pass --state with a path in a writable directory",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, state: State) -> None:
        tmp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)


def _flag_entry(state: State, flag: str) -> dict[str, Any]:
    entry: dict[str, Any] = state["flags"].setdefault(flag, {})
    entry.setdefault("environments", {})
    entry.setdefault("events", [])
    return entry


def _state_of(state: State, flag: str, env: str) -> FlagState:
    entry = state.get("flags", {}).get(flag)
    if entry is None:
        return FlagState(flag=flag, env=env, enabled=False, rollout=0, exists=False)
    current = entry.get("environments", {}).get(env, {})
    return FlagState(
        flag=flag,
        env=env,
        enabled=bool(current.get("enabled", False)),
        rollout=int(current.get("rollout", 100)),
    )


def _all_states(state: State, env: str) -> list[FlagState]:
    return [_state_of(state, flag, env) for flag in state["flags"]]


def _event(flag: str, raw: dict[str, Any]) -> BackendEvent:
    at = datetime.fromisoformat(raw["at"]) if raw.get("at") else None
    detail = f"enabled={raw.get('enabled')} rollout={raw.get('rollout')}%"
    return BackendEvent(
        at=at,
        action=str(raw.get("action")),
        flag=flag,
        env=raw.get("env"),
        actor=None,
        detail=detail,
    )
