"""A flag backend in local files, for development and for the reference clinic.

Two kinds of file, holding disjoint facts, so no crash can leave them disagreeing:

    flags-<env>.json   per environment, in Unleash's /api/client/features format: the ONLY
                       copy of whether each flag is on in <env> and for what share. The clinic
                       reads it (`--flags-file`), and `status` reads the very same bytes.
    flags-state.json   the known environments, each flag's pinned policy digest, its revoked
                       builds, its audit chain heads and its event history.

Every change happens under an exclusive flock on a sidecar lock file and replaces a file whole
(temporary file, fsync, rename). A change to a flag is one rename of its environment's file;
the event appended to the state afterwards may be lost to a crash (the audit log, written
ahead, still has it), but the flag's state and what the clinic reads cannot differ.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flags.backends import bootstrap
from flags.backends.base import AuditHead, BackendEvent, FlagState
from harness.bounded import MAX_DATA_BYTES, read_bounded_text
from harness.errors import InfrastructureError, UsageError

DEFAULT_STATE = Path(".chaperone") / "flags-state.json"
# A fresh state knows only this environment; `flags pin` adds the policy's environments.
DEFAULT_ENVIRONMENTS = ("development",)
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

State = dict[str, Any]


class LocalBackend:
    name = "local"

    def __init__(self, state_path: Path, flags_dir: Path | None = None) -> None:
        self.state_path = state_path
        self.flags_dir = flags_dir or state_path.parent

    # -- the flag ---------------------------------------------------------------------------

    def clinic_file(self, env: str) -> Path:
        """The file a clinic in `env` reads (`clinic serve --flags-file`)."""
        if not _ENV_NAME.match(env):
            raise UsageError(f"'{env}' is not an environment name", "use letters, digits, - or _")
        return self.flags_dir / f"flags-{env}.json"

    def environments(self) -> list[str]:
        return list(self._read_state().get("environments", DEFAULT_ENVIRONMENTS))

    def declare_environments(self, envs: Sequence[str]) -> None:
        """Makes `envs` known and writes their clinic files (every flag off) if missing: a
        clinic that finds no file at all turns its feature on."""
        with self._changing() as state:
            known = list(state.setdefault("environments", list(DEFAULT_ENVIRONMENTS)))
            state["environments"] = known + [e for e in envs if e not in known]
            for env in state["environments"]:
                if not self.clinic_file(env).exists():
                    self._write_env(env, {}, {})

    def ensure_clinic_file(self, env: str) -> Path:
        self._known_env(self._read_state(), env)
        path = self.clinic_file(env)
        if not path.exists():
            with self._locked():
                if not path.exists():
                    self._write_env(env, {}, {})
        return path

    def status(self, flag: str, env: str) -> FlagState:
        state = self._read_state()
        self._known_env(state, env)
        features, _ = self._read_env(env)
        if flag not in features:
            return FlagState(flag, env, enabled=False, rollout=0, exists=flag in state["flags"])
        enabled, rollout = features[flag]
        return FlagState(flag=flag, env=env, enabled=enabled, rollout=rollout)

    def ensure_flag(self, flag: str) -> None:
        with self._changing() as state:
            _flag_entry(state, flag)

    def enable(
        self, flag: str, env: str, rollout: int = 100, build_digest: str | None = None
    ) -> FlagState:
        return self._set(flag, env, "enable", enabled=True, rollout=rollout, build=build_digest)

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState:
        return self._set(flag, env, "set-rollout", enabled=None, rollout=percent)

    def disable(self, flag: str, env: str) -> FlagState:
        return self._set(flag, env, "disable", enabled=False, rollout=None)

    def flag_names(self) -> list[str]:
        """Every flag in the state file or in an environment's clinic file."""
        state = self._read_state()
        names = set(state["flags"])
        for env in state.get("environments", DEFAULT_ENVIRONMENTS):
            names |= set(self._read_env(env)[0])
        return sorted(names)

    def history(self, flag: str) -> list[BackendEvent]:
        entry = self._read_state()["flags"].get(flag, {})
        return [_event(flag, raw) for raw in entry.get("events", [])]

    # -- trust records ----------------------------------------------------------------------

    def pin(self, flag: str) -> str | None:
        pinned = self._read_state()["flags"].get(flag, {}).get("pin")
        return str(pinned) if pinned else None

    def set_pin(self, flag: str, digest: str, environments: Sequence[str]) -> None:
        self.declare_environments(environments)
        with self._changing() as state:
            entry = _flag_entry(state, flag)
            entry["pin"] = digest
            entry["events"].append(_raw_event("pin", None, detail=f"policy {digest[:12]}"))

    def revoked(self, flag: str) -> frozenset[str]:
        return frozenset(self._read_state()["flags"].get(flag, {}).get("revoked", {}))

    def revoke(self, flag: str, build_digest: str) -> None:
        with self._changing() as state:
            entry = _flag_entry(state, flag)
            entry.setdefault("revoked", {})[build_digest] = datetime.now(UTC).isoformat()
            entry["events"].append(_raw_event("revoke", None, detail=f"build {build_digest[:12]}"))

    def live_build(self, flag: str, env: str) -> str | None:
        _, live = self._read_env(env)
        return live.get(flag)

    def audit_heads(self, flag: str) -> dict[str, AuditHead]:
        raw = self._read_state()["flags"].get(flag, {}).get("audit_heads", {})
        return {log: AuditHead(log, int(h["seq"]), str(h["sha256"])) for log, h in raw.items()}

    def set_audit_head(self, flag: str, head: AuditHead) -> None:
        with self._changing() as state:
            heads = _flag_entry(state, flag).setdefault("audit_heads", {})
            heads[head.log] = {"seq": head.seq, "sha256": head.sha256}

    # -- files ------------------------------------------------------------------------------

    def _set(
        self,
        flag: str,
        env: str,
        action: str,
        *,
        enabled: bool | None,
        rollout: int | None,
        build: str | None = None,
    ) -> FlagState:
        with self._locked():
            state = self._read_state()
            self._known_env(state, env)
            features, live = self._read_env(env)
            was_on, was_rollout = features.get(flag, (False, 100))
            now_on = was_on if enabled is None else enabled
            now_rollout = was_rollout if rollout is None else rollout
            features[flag] = (now_on, now_rollout)
            if build is not None:
                live[flag] = build
            # The one write that changes the flag: the clinic sees it the moment it lands.
            self._write_env(env, features, live)
            entry = _flag_entry(state, flag)
            entry["events"].append(_raw_event(action, env, enabled=now_on, rollout=now_rollout))
            self._write(self.state_path, state)
        return FlagState(flag=flag, env=env, enabled=now_on, rollout=now_rollout)

    def _known_env(self, state: State, env: str) -> None:
        self.clinic_file(env)  # validates the name
        known = state.get("environments", list(DEFAULT_ENVIRONMENTS))
        if env not in known:
            close = difflib.get_close_matches(env, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(
                f"the local backend has no environment '{env}' (it has: {', '.join(known)})",
                f"{hint}environments come from the pinned policy (`chaperone flags pin`)",
            )

    def _read_env(self, env: str) -> tuple[dict[str, tuple[bool, int]], dict[str, str]]:
        document = self._read_json(self.clinic_file(env), "features")
        if document is None:
            return {}, {}
        features: dict[str, tuple[bool, int]] = {}
        for feature in document.get("features", []):
            strategies = feature.get("strategies") or [{}]
            rollout = int(strategies[0].get("parameters", {}).get("rollout", 100))
            features[str(feature["name"])] = (bool(feature.get("enabled")), rollout)
        live = document.get("chaperone", {}).get("live", {})
        return features, {str(k): str(v) for k, v in live.items()}

    def _write_env(
        self, env: str, features: dict[str, tuple[bool, int]], live: dict[str, str]
    ) -> None:
        states = [FlagState(name, env, on, rollout) for name, (on, rollout) in features.items()]
        document = bootstrap.render(states)
        # UnleashClient reads only version/features/segments; this block is ours.
        document["chaperone"] = {"env": env, "live": dict(sorted(live.items()))}
        self._write(self.clinic_file(env), document)

    def _read_state(self) -> State:
        state = self._read_json(self.state_path, "flags")
        if state is None:
            return {"version": 2, "environments": list(DEFAULT_ENVIRONMENTS), "flags": {}}
        return state

    def _read_json(self, path: Path, required: str) -> dict[str, Any] | None:
        try:
            text = read_bounded_text(
                path, "flag file", MAX_DATA_BYTES, "pass --state with a readable file"
            )
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read flag file {path}: {getattr(exc, 'strerror', None) or exc}",
                "pass --state with a readable file",
            ) from None
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise UsageError(
                f"flag file {path} is not valid JSON",
                "restore it or delete it to start with every flag off",
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get(required), list | dict):
            raise UsageError(
                f"flag file {path} has no '{required}'",
                "restore it or delete it to start with every flag off",
            )
        return document

    @contextlib.contextmanager
    def _changing(self) -> Iterator[State]:
        with self._locked():
            state = self._read_state()
            yield state
            self._write(self.state_path, state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            self.flags_dir.mkdir(parents=True, exist_ok=True)
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

    @staticmethod
    def _write(path: Path, document: dict[str, Any]) -> None:
        """Whole-file replace; the lock makes a fixed temporary name safe, and a crash leaves
        at most a stale temporary file, never a half-written target."""
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            # A full disk, say: the old file is untouched, so the flag is as it was. An
            # InfrastructureError, which the kill switch retries and reports in one line.
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise InfrastructureError(
                f"cannot write flag file {path}: {exc.strerror or exc}",
                "free space on its disk; the flag is unchanged until it is written",
            ) from None


def _flag_entry(state: State, flag: str) -> dict[str, Any]:
    entry: dict[str, Any] = state["flags"].setdefault(flag, {})
    entry.setdefault("events", [])
    return entry


def _raw_event(action: str, env: str | None, **detail: Any) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "action": action, "env": env, **detail}


def _event(flag: str, raw: dict[str, Any]) -> BackendEvent:
    at = datetime.fromisoformat(raw["at"]) if raw.get("at") else None
    if "detail" in raw:
        detail = str(raw["detail"])
    else:
        detail = f"enabled={raw.get('enabled')} rollout={raw.get('rollout')}%"
    return BackendEvent(
        at=at,
        action=str(raw.get("action")),
        flag=flag,
        env=raw.get("env"),
        actor=None,
        detail=detail,
    )
