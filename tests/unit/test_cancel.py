"""One cancellation protocol: scopes that know why, `Cancelled(reason)` from the start, and a
Ctrl-C that becomes `Cancelled(interrupt)` in one place (harness.cancel)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.aio import LoopThread
from harness.cancel import CancelScope, interrupts
from harness.config import RunOptions
from harness.errors import Cancelled, CancelReason, TargetUnreachable
from harness.events import (
    EngineError,
    Event,
    Interrupted,
    RunFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Verdict
from harness.suites import RunContext
from tests.unit.inprocess import run_inprocess

FAST = dict(population={"patient": 3, "clinician": 2, "appointment": 10})


def test_a_child_is_cancelled_with_its_parent_never_the_other_way() -> None:
    run = CancelScope()
    suite, other = run.child(), run.child()
    suite.cancel(CancelReason.TIMEOUT, "suite 'x' timed out after 1s")
    assert suite.is_set() and not run.is_set() and not other.is_set()
    run.cancel(CancelReason.INTERRUPT)
    assert other.reason is CancelReason.INTERRUPT
    assert suite.reason is CancelReason.TIMEOUT  # the first reason stays
    late = run.child()
    assert late.reason is CancelReason.INTERRUPT  # born into a cancelled run
    with pytest.raises(Cancelled, match="timed out after 1s") as raised:
        suite.raise_if_cancelled()
    assert raised.value.reason is CancelReason.TIMEOUT


def test_a_ctrl_c_becomes_cancelled_interrupt_and_cancels_the_scope() -> None:
    scope = CancelScope()
    child = scope.child()
    with pytest.raises(Cancelled) as raised, interrupts(scope):
        raise KeyboardInterrupt
    assert raised.value.reason is CancelReason.INTERRUPT
    assert child.reason is CancelReason.INTERRUPT
    assert raised.value.one_line() == "interrupted"


def test_a_stream_raises_its_scopes_reason_even_when_the_generator_winds_down() -> None:
    """A generator that saw the cancellation and ended with a closing event of its own (the
    browser suite does) must not look like one that finished."""
    scope = CancelScope()

    async def polite() -> AsyncIterator[str]:
        yield "started"
        while not scope.is_set():
            await _sleep(0.01)
        yield "finished: pass"  # what a suite that stops cooperatively says last

    loop = LoopThread()
    seen: list[str] = []
    try:
        threading.Timer(0.3, scope.cancel, args=(CancelReason.TIMEOUT,)).start()
        with pytest.raises(Cancelled) as raised:
            for item in loop.stream(polite(), scope):
                seen.append(item)
    finally:
        loop.close()
    assert raised.value.reason is CancelReason.TIMEOUT
    assert seen == ["started"]


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _suite(name: str, behaviour: str):  # type: ignore[no-untyped-def]
    def suite(ctx: RunContext) -> Iterator[Event]:
        yield SuiteStarted(name, None, 0.0)
        if behaviour == "ignores its deadline":
            ctx.cancel.wait(30)
        elif behaviour == "ctrl-c":
            raise KeyboardInterrupt  # as the signal handler raises it, mid-suite
        elif behaviour == "target gone":
            raise TargetUnreachable("http://clinic.test did not answer", "start it")
        yield SuiteFinished(name, Verdict.PASS, 0.0, 0.0)

    return suite


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str, **changes: object
) -> list[Event]:
    """`first` is the first suite's behaviour; every later suite passes."""
    calls: list[str] = []

    def load(name: str):  # type: ignore[no-untyped-def]
        calls.append(name)
        return _suite(name, first if len(calls) == 1 else "pass")

    monkeypatch.setattr("harness.engine.load_suite", load)
    options = RunOptions(suites=("switch", "access"), **{**FAST, **changes})  # type: ignore[arg-type]
    return run_inprocess(tmp_path, options)


def test_a_suite_that_ignores_its_deadline_is_timed_out_and_the_next_one_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _run(tmp_path, monkeypatch, "ignores its deadline", timeout_seconds=1.0)
    errors = [e for e in events if isinstance(e, EngineError)]
    assert [e.suite for e in errors] == ["switch"]
    assert "suite 'switch' timed out after 1s" in errors[0].message
    finished = [(e.suite, e.verdict) for e in events if isinstance(e, SuiteFinished)]
    assert finished == [("switch", Verdict.ERROR), ("access", Verdict.PASS)]
    assert not any(isinstance(e, Interrupted) for e in events)


def test_a_ctrl_c_in_a_suite_ends_the_run_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _run(tmp_path, monkeypatch, "ctrl-c")
    finished = [e for e in events if isinstance(e, SuiteFinished)]
    assert [(e.suite, e.verdict, e.message) for e in finished] == [
        ("switch", Verdict.ERROR, "interrupted")
    ]
    assert any(isinstance(e, Interrupted) for e in events)
    last = events[-1]
    assert isinstance(last, RunFinished) and last.verdict is Verdict.ERROR


def test_a_lost_target_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _run(tmp_path, monkeypatch, "target gone")
    assert [e.suite for e in events if isinstance(e, SuiteFinished)] == ["switch"]
    stopped = [e.message for e in events if isinstance(e, EngineError) and e.suite == ""]
    assert stopped == ["stopped after suite 'switch': http://clinic.test did not answer; start it"]
    last = events[-1]
    assert isinstance(last, RunFinished) and last.verdict is Verdict.ERROR


def test_a_stateful_exploration_past_its_deadline_is_timed_out(tmp_path: Path) -> None:
    """The explorer runs inside Hypothesis in a thread of its own; its deadline must come out
    as the suite's timeout, not as a failing or flaky example."""
    options = RunOptions(
        suites=("stateful",), timeout_seconds=2.0, stateful_examples=10_000, **FAST
    )
    events = run_inprocess(tmp_path, options)
    errors = [e.message for e in events if isinstance(e, EngineError)]
    timed_out = "suite 'stateful' timed out after 2s; raise the timeout or shrink the run"
    assert timed_out in errors, errors
    assert not any("internal error" in m or "could not record" in m for m in errors), errors
    assert not any(isinstance(e, Interrupted) for e in events)
