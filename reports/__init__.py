"""Reporters: turn the engine's event stream into a verdict, an exit code and report files.

Public API:

    RunCollector().handle(event) / .result() -> RunResult   (reports.result)
    decide_verdict(...), exit_code(result) -> ExitCode       (reports.result)
    build_exposures(findings) -> list[Exposure]              (reports.exposures)
    write_json / load_report, write_junit, write_html        (one module each)
    write_all(result, out_dir, secrets) -> {"json","junit","html": Path}  (reports.writer)
    ConsoleReporter(console, plain, secrets)                 (reports.console)
    redact(text, secrets), Redactor, redact_result           (reports.redact)
"""
