"""`chaperone selftest`: does the gate catch every planted fault, and stay silent on the clean
build? One package, beside `bench/`, above `flags/` in the layers; only the CLI shell imports it.

    catalog   the target's planted faults and where each shows (FaultCatalog), handed in by
              the CLI from `clinic.faults.catalog()` (= `chaperone clinic faults --json`):
              this package never imports the clinic (an import-linter contract)
    plan      SelftestPlan -> PlannedRun: one `chaperone run` each
    launcher  one PlannedRun as a `chaperone run` subprocess -> RunOutcome (outcome)
    pool      up to --jobs launches at once, longest first
    evidence  what a run's report says: findings per suite, leaks, errors, verdict
    scoring   FaultScore / CleanScore from outcomes
    scorecard Scorecard: the exit code (error > fail > pass) and selftest.json / .html
    progress  the line each finished run gets, as data for reports.selftest_console

Nothing here prints: reports/ renders (selftest_console, scorecard_html).
"""
