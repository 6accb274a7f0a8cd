"""Stands in for `python -m locust` in unit tests: writes the output files a real run would.

Behaviour comes from the environment the test sets:
FAKE_FIXTURES  directory holding `stats.csv` and `history.csv` to publish under `--csv PREFIX`
FAKE_FINDING   a JSON finding line to append to a findings file, as the master would
FAKE_COVERAGE  a coverage document (JSON) to write, as the master would
FAKE_FAILURE   a reason the master judged the run untrustworthy (findings/failure.txt)
FAKE_LOG       a line to write to --logfile
FAKE_SLEEP     seconds to wait before exiting (to test cancel, deadline and health checks)
FAKE_EXIT      exit code (default 0)
FAKE_ARGV      a file to record this command line and run variables in (JSON lines)
"""

import faulthandler
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path


def main() -> int:
    # As the locustfile does: the harness asks an overrunning run for its threads' stacks.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    argv = sys.argv[1:]
    prefix = argv[argv.index("--csv") + 1] if "--csv" in argv else None
    record = os.environ.get("FAKE_ARGV")
    if record:
        seen = {k: v for k, v in os.environ.items() if k.startswith("CHAPERONE_LOAD_")}
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": argv, "env": seen, "cwd": os.getcwd()}) + "\n")
    if "--worker" in argv:  # workers of the fake do nothing
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
        return 0
    out = Path(os.environ.get("CHAPERONE_LOAD_FINDINGS", "."))
    finding = os.environ.get("FAKE_FINDING")
    if finding:
        with (out / "findings-worker-0.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(finding + "\n")
    if os.environ.get("FAKE_COVERAGE"):
        (out / "coverage.json").write_text(os.environ["FAKE_COVERAGE"], encoding="utf-8")
    if os.environ.get("FAKE_FAILURE"):
        (out / "failure.txt").write_text(os.environ["FAKE_FAILURE"] + "\n", encoding="utf-8")
    if os.environ.get("FAKE_LOG") and "--logfile" in argv:
        Path(argv[argv.index("--logfile") + 1]).write_text(os.environ["FAKE_LOG"] + "\n")
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    fixtures = os.environ.get("FAKE_FIXTURES")
    if prefix and fixtures and (Path(fixtures) / "stats.csv").is_file():
        shutil.copy(Path(fixtures) / "stats.csv", f"{prefix}_stats.csv")
        shutil.copy(Path(fixtures) / "history.csv", f"{prefix}_stats_history.csv")
    return int(os.environ.get("FAKE_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
