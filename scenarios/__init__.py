"""Scenario suites: switch, access, stateful and browser."""
