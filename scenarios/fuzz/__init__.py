"""The `fuzz` suite: Schemathesis, used as a library, generates the traffic; Chaperone's Judge
rules on every response it receives (see `scenarios.fuzz.suite`).

    document  the profile's OpenAPI document, and what may be sent (unsafe routes never)
    examples  planted data as example values, so requests reach real, owned data
    runner    Schemathesis's engine: phases, actors in turn, every response handed over
    traffic   whose credentials a request carried; responses as Observations; redaction
    contract  Schemathesis's own checks, a separate non-leak category
    suite     the suite itself: warm-up, judging, cases, verdict
"""

from scenarios.fuzz.suite import run_fuzz

__all__ = ["run_fuzz"]
