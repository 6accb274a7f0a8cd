"""Carrying out a selftest's runs, up to `jobs` at once.

    dispatch(runs, runner, jobs, on_done)
      ├── a thread pool of `jobs` workers; the longest runs start first (PlannedRun.cost)
      ├── runner(planned) in a worker (selftest.launcher.Launcher: one subprocess)
      └── on_done(k, n, outcome) in the calling thread, in completion order

Ctrl-C stops the runner (every live process group), waits for the workers and re-raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Protocol

from selftest.outcome import RunOutcome
from selftest.plan import PlannedRun


class Runner(Protocol):
    def __call__(self, planned: PlannedRun) -> RunOutcome: ...

    def stop(self) -> None: ...


Done = Callable[[int, int, RunOutcome], None]


def dispatch(
    runs: Sequence[PlannedRun], runner: Runner, jobs: int, on_done: Done
) -> list[RunOutcome]:
    """Every run, `jobs` at a time, longest first; the outcomes in plan order."""
    order = sorted(range(len(runs)), key=lambda i: -runs[i].cost())
    outcomes: dict[int, RunOutcome] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="selftest")
    try:
        futures = {pool.submit(runner, runs[i]): i for i in order}
        for count, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            outcomes[index] = _outcome(future, runs[index])
            on_done(count, len(runs), outcomes[index])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        runner.stop()
        raise
    finally:
        pool.shutdown(wait=True)
    return [outcomes[i] for i in range(len(runs))]


def _outcome(future: Future[RunOutcome], planned: PlannedRun) -> RunOutcome:
    """The runner's outcome; a runner that raised is a run not carried out, never a pass."""
    try:
        return future.result()
    except Exception as exc:
        return RunOutcome(planned, None, 0.0, "", f"internal error: {type(exc).__name__}: {exc}")
