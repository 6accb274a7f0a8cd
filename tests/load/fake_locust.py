"""Stands in for `python -m locust` in unit tests: writes the output files a real run would.

Behaviour comes from the environment the test sets:
FAKE_FIXTURES  directory holding `stats.csv` and `history.csv` to publish under `--csv PREFIX`
FAKE_FINDING   a JSON finding line to append to this process's findings file
FAKE_SLEEP     seconds to wait before exiting (to test cancel, deadline and health checks)
FAKE_EXIT      exit code (default 0)
"""

import os
import shutil
import sys
import time
from pathlib import Path


def main() -> int:
    argv = sys.argv[1:]
    prefix = argv[argv.index("--csv") + 1] if "--csv" in argv else None
    finding = os.environ.get("FAKE_FINDING")
    if finding:
        out = Path(os.environ["CHAPERONE_LOAD_FINDINGS"]) / f"findings-{os.getpid()}.jsonl"
        with out.open("a", encoding="utf-8") as handle:
            handle.write(finding + "\n")
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    fixtures = os.environ.get("FAKE_FIXTURES")
    if prefix and fixtures and (Path(fixtures) / "stats.csv").is_file():
        shutil.copy(Path(fixtures) / "stats.csv", f"{prefix}_stats.csv")
        shutil.copy(Path(fixtures) / "history.csv", f"{prefix}_stats_history.csv")
    return int(os.environ.get("FAKE_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
