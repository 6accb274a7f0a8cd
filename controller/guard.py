"""Watch inside the controller: every enabled flag is probed (flags.watch's probe and incident
report), and on a leak the controller disables the flag, then revokes the live artefact's
digest, then writes the incident.

Each response is a `guard_actions` row advanced one step at a time (disable -> revoke ->
incident -> done), each step committed with its audit entry before the next starts, so a
controller killed between two steps finishes the rest when it starts again. A step that fails
is retried with backoff, forever, and raises an alert until it succeeds: a flag the controller
can no longer guard is never left on quietly. If even the intent cannot be written (a full
disk, a broken database) the flag is turned off first and the reason logged in one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from controller import audit
from controller.decisions import Controller, one_line, revoke_in, withdraw
from controller.stages import parse_stages
from controller.store import approvals, guard_actions, now_text
from controller.tokens import Principal
from flags.watch import (
    AutoDisabled,
    Probe,
    ProbeResult,
    WatchPlan,
    _lost_because,
    build_incident,
)
from harness.errors import GateRefused, InfrastructureError, UsageError
from reports.incident import Incident, write_incident

ACTOR = "controller:watch"
# Stage raises are the watch's own decisions, made with a release manager's rights.
WATCH_PRINCIPAL = Principal(ACTOR, "release-manager")
WATCH_ALERT = "watch"
CRASH_ENV = "CHAPERONE_CONTROLLER_CRASH_AFTER"
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
log = logging.getLogger("chaperone.controller")

ProbeFactory = Callable[[str, str], Probe]  # (flag, env) -> the probe for it


@dataclass(frozen=True)
class Live:
    flag: str
    env: str
    digest: str | None
    rollout: int
    since: str | None = None  # when the approved rollout last changed: the stage's start


@dataclass
class _Stage:
    """What the probes saw during one stage (one approval `since`)."""

    since: str | None
    switched: int = 0
    held: bool = False


class Watcher:
    """Probes every approved-on flag every `interval` seconds (when a probe factory is given)
    and drives every unfinished guard action to its end."""

    def __init__(
        self,
        controller: Controller,
        incidents: Path,
        probe_for: ProbeFactory | None = None,
        interval: float = 30.0,
        target: str = "",
        secrets: Sequence[str] = (),
        backoff: Sequence[float] = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        raise_stages: bool = False,
        envs: Sequence[str] = (),
    ) -> None:
        self._controller, self._incidents = controller, incidents
        self._probe_for, self._interval = probe_for, interval
        self._target, self._secrets, self._backoff = target, tuple(secrets), tuple(backoff)
        self._clock = clock
        self._probes: dict[tuple[str, str], Probe] = {}
        self._rounds: dict[tuple[str, str], int] = {}
        self._next_try: dict[int, float] = {}
        self._raise_stages = raise_stages
        # The environments the target serves (empty: every one): a staging target proves
        # nothing about a flag's production rollout.
        self._envs = frozenset(envs)
        self._stages: dict[tuple[str, str], _Stage] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 30)
        for probe in self._probes.values():
            close = getattr(probe, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def _run(self) -> None:
        last_probe = float("-inf")
        while not self._stop.is_set():
            try:
                # Unfinished responses first: a restart resumes a disable-and-revoke at once.
                self.resume()
                if self._probe_for is not None and self._clock() - last_probe >= self._interval:
                    last_probe = self._clock()
                    self.probe_all()
            except Exception as exc:
                # The loop outlives any one failure: a dead watch would guard nothing.
                log.exception("watch round failed")
                self._controller.alert(WATCH_ALERT, f"a watch round failed ({one_line(exc)})")
            else:
                self._controller.clear_alert(WATCH_ALERT)
            self._stop.wait(min(self._interval, self._backoff[0]))

    def probe_all(self) -> None:
        """One probe round for every flag the controller approved on and is not acting on."""
        for live in self._live():
            if self._stop.is_set():
                return
            self.probe(live)

    def probe(self, live: Live) -> None:
        assert self._probe_for is not None
        key = (live.flag, live.env)
        probe = self._probes.get(key) or self._probes.setdefault(key, self._probe_for(*key))
        self._rounds[key] = round_no = self._rounds.get(key, 0) + 1
        detected = time.time()
        try:
            result = probe(round_no)
        except (InfrastructureError, TimeoutError, UsageError, ValueError) as exc:
            reason = f"target unreachable in watch round {round_no}, safety unproven: "
            self.respond(live, "target-lost", reason + _lost_because(exc), round_no, detected)
            return
        except Exception as exc:
            # A probe that crashed proves nothing either.
            log.exception("watch probe crashed")
            reason = f"probe failed in watch round {round_no} ({type(exc).__name__})"
            self.respond(live, "target-lost", reason, round_no, detected)
            return
        if result.leaks:
            first = min(result.leaks, key=lambda finding: finding.time)
            reason = f"leak in watch round {round_no}: {first.kind} - {first.message}"
            self.respond(live, "leak", reason, round_no, detected, result)
            return
        self._progress(live, result)

    def _progress(self, live: Live, result: ProbeResult) -> None:
        """With raise_stages: a stage that stayed clean, with at least one real switch, for
        its watch_seconds is raised to the next stage (the controller's stage rules decide
        when). Any finding holds the stage for good, as `chaperone watch --stages` does."""
        key = (live.flag, live.env)
        stage = self._stages.get(key)
        if stage is None or stage.since != live.since:
            stage = self._stages[key] = _Stage(live.since)
        stage.switched += result.switched
        stage.held = stage.held or bool(result.findings)
        if not self._raise_stages or stage.held or stage.switched == 0:
            return
        following = next_stage(self._controller, live)
        if following is None:
            return
        reason = f"stage {live.rollout}% stayed clean ({stage.switched} switches)"
        with contextlib.suppress(GateRefused):  # its watch_seconds have not passed yet
            self._controller.set_stage(WATCH_PRINCIPAL, live.flag, live.env, following, reason)

    # -- responding -------------------------------------------------------------------------

    def respond(
        self,
        live: Live,
        kind: str,
        reason: str,
        round_no: int,
        detected: float,
        result: ProbeResult | None = None,
    ) -> int | None:
        """Records the intent, then drives it; returns the action's id (None: not recorded)."""
        incident = self._incident(live, reason, round_no, detected, result) if result else None
        try:
            with self._controller.decision() as conn:
                inserted = conn.execute(
                    insert(guard_actions).values(
                        flag=live.flag,
                        env=live.env,
                        kind=kind,
                        digest=live.digest if kind == "leak" else None,
                        reason=reason,
                        step="disable",
                        detected_at=datetime.fromtimestamp(detected, UTC).isoformat(),
                        incident=incident.model_dump_json() if incident else None,
                        attempts=0,
                    )
                ).inserted_primary_key
                assert inserted is not None
                action = int(inserted[0])
                audit.append(
                    conn,
                    self._controller.audit_key,
                    ACTOR,
                    f"{kind}-detected",
                    live.flag,
                    live.env,
                    guard_action=action,
                    reason=reason,
                    digest=live.digest,
                )
        except SQLAlchemyError as exc:
            # Nowhere to write the intent: the flag goes off first, the record can wait.
            failed = self._controller.fail_closed(live.flag, [live.env], exc)
            log.error("%s (%s)", failed.problem, reason)
            return None
        self.advance(action)
        return action

    def resume(self) -> None:
        """Drives every unfinished action whose backoff has passed."""
        try:
            with self._controller.engine.connect() as conn:
                pending = [
                    row.id
                    for row in conn.execute(
                        select(guard_actions.c.id).where(guard_actions.c.step != "done")
                    )
                ]
        except SQLAlchemyError as exc:
            self._controller.alert("watch-db", f"watch cannot read its actions ({one_line(exc)})")
            return
        now = self._clock()
        for action in pending:
            if self._next_try.get(action, float("-inf")) <= now:
                self.advance(action)

    def advance(self, action: int) -> str:
        """Runs the action's remaining steps; a failed step is retried later with backoff."""
        while True:
            row = self._row(action)
            if row is None or row.step == "done":
                self._next_try.pop(action, None)
                return "done"
            try:
                _STEPS[row.step](self, row)
            except Exception as exc:
                return self._failed(row, exc)
            self._controller.clear_alert(_alert_key(row))
            _crash_point(row.step)

    def _failed(self, row: Row[Any], exc: Exception) -> str:
        attempts = row.attempts + 1
        pause = self._backoff[min(attempts - 1, len(self._backoff) - 1)]
        self._next_try[row.id] = self._clock() + pause
        message = (
            f"watch cannot {row.step} '{row.flag}' in {row.env} ({one_line(exc)}); "
            f"attempt {attempts}, retrying in {pause:.0f}s"
        )
        if row.step == "disable":
            message = f"'{row.flag}' may still be ON in {row.env}: " + message
        self._controller.alert(_alert_key(row), message, row.flag, row.env)
        with contextlib.suppress(SQLAlchemyError), self._controller.decision() as conn:
            conn.execute(
                update(guard_actions)
                .where(guard_actions.c.id == row.id)
                .values(attempts=attempts, last_error=one_line(exc))
            )
        return str(row.step)

    def _row(self, action: int) -> Row[Any] | None:
        with self._controller.engine.connect() as conn:
            return conn.execute(select(guard_actions).where(guard_actions.c.id == action)).first()

    # -- the steps, each one committed with its audit entry ---------------------------------

    def _disable(self, row: Row[Any]) -> None:
        controller = self._controller
        with controller.decision() as conn:
            withdraw(conn, row.flag, row.env)
            controller.backend.disable(row.flag, row.env)
            audit.append(
                conn,
                controller.audit_key,
                ACTOR,
                "auto-disabled",
                row.flag,
                row.env,
                guard_action=row.id,
                reason=row.reason,
            )
            following = "revoke" if row.kind == "leak" and row.digest else "incident"
            _set_step(conn, row.id, following, disabled_at=now_text())

    def _revoke(self, row: Row[Any]) -> None:
        controller = self._controller
        with controller.decision() as conn:
            others = [
                r.env
                for r in conn.execute(
                    select(approvals.c.env).where(
                        approvals.c.flag == row.flag,
                        approvals.c.digest == row.digest,
                        approvals.c.enabled.is_(True),
                    )
                )
            ]
            revoke_in(conn, controller.audit_key, ACTOR, row.flag, row.digest, others)
            for env in others:
                controller.backend.disable(row.flag, env)
            _set_step(conn, row.id, "incident")

    def _write_incident(self, row: Row[Any]) -> None:
        written, summary = None, None
        if row.incident:
            incident = Incident.model_validate_json(row.incident).model_copy(
                update={
                    "disabled_at": datetime.fromisoformat(row.disabled_at)
                    if row.disabled_at
                    else None,
                    "revoked_build": row.digest,
                }
            )
            # Named by the action: a resumed write overwrites the same files.
            written = write_incident(incident, self._incidents / f"{row.flag}-{row.env}-{row.id}")
            # What the dashboard's incident list shows: whose data reached whom.
            document = incident.model_dump(mode="json")
            summary = {
                "reason": incident.reason,
                "revoked_build": incident.revoked_build,
                "exposures": document["exposures"],
            }
        with self._controller.decision() as conn:
            audit.append(
                conn,
                self._controller.audit_key,
                ACTOR,
                "incident-written" if written else "guard-done",
                row.flag,
                row.env,
                guard_action=row.id,
                path=str(written[0]) if written else None,
                incident=summary,
            )
            _set_step(conn, row.id, "done")

    # -- reading ----------------------------------------------------------------------------

    def _live(self) -> list[Live]:
        try:
            with self._controller.engine.connect() as conn:
                busy = {
                    (row.flag, row.env)
                    for row in conn.execute(
                        select(guard_actions.c.flag, guard_actions.c.env).where(
                            guard_actions.c.step != "done"
                        )
                    )
                }
                rows = conn.execute(select(approvals).where(approvals.c.enabled.is_(True))).all()
        except SQLAlchemyError as exc:
            self._controller.alert("watch-db", f"watch cannot read approvals ({one_line(exc)})")
            return []
        return [
            Live(row.flag, row.env, row.digest, row.rollout or 100, row.since)
            for row in rows
            if (row.flag, row.env) not in busy and (not self._envs or row.env in self._envs)
        ]

    def _incident(
        self,
        live: Live,
        reason: str,
        round_no: int,
        detected: float,
        result: ProbeResult | None,
    ) -> Incident | None:
        if result is None:
            return None
        event = AutoDisabled(
            round_no, live.rollout, result.findings, detected, None, reason, revoked=live.digest
        )
        # The plan's audit path is the CLI watch's file log: the controller keeps none, so the
        # enable time comes from the flag store's own events.
        plan = WatchPlan(
            flag=live.flag,
            env=live.env,
            interval=self._interval,
            audit_path=self._incidents / ".no-file-audit.jsonl",
            backend_name=self._controller.backend.name,
        )
        try:
            return build_incident(
                event, plan, self._controller.backend, self._target, self._secrets
            )
        except Exception:
            log.exception("incident for '%s' in %s could not be built", live.flag, live.env)
            return None


def next_stage(controller: Controller, live: Live) -> int | None:
    """The stage after the live rollout, from the approval's pinned stages (None: the last)."""
    with controller.engine.connect() as conn:
        text_ = conn.execute(
            select(approvals.c.stages).where(
                approvals.c.flag == live.flag, approvals.c.env == live.env
            )
        ).scalar()
    higher = [percent for percent, _seconds in parse_stages(text_) if percent > live.rollout]
    return min(higher) if higher else None


def _set_step(conn: Any, action: int, step: str, **values: Any) -> None:
    conn.execute(
        update(guard_actions)
        .where(guard_actions.c.id == action)
        .values(step=step, last_error=None, **values)
    )


def _alert_key(row: Row[Any]) -> str:
    return f"guard:{row.id}"


def _crash_point(step: str) -> None:
    """Fault injection for the crash-safety tests only: the process dies right after `step`
    committed (named in CHAPERONE_CONTROLLER_CRASH_AFTER), as kill -9 would leave it."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


_STEPS: dict[str, Callable[[Watcher, Row[Any]], None]] = {
    "disable": Watcher._disable,
    "revoke": Watcher._revoke,
    "incident": Watcher._write_incident,
}
