"""The leak oracle: a registry of plain-function oracles and the Judge that runs them.

obs --> Judge --> [canary-leak, recording-ownership, appointment-count, server-error,
                   ...entry-point plugins] --> Findings
"""

from harness.oracles.context import Listing, ListingParser, OracleContext, no_listing
from harness.oracles.judge import Judge
from harness.oracles.registry import (
    ENTRY_POINT_GROUP,
    OracleFn,
    load_entry_point_oracles,
    oracle,
    registered_oracles,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Judge",
    "Listing",
    "ListingParser",
    "OracleContext",
    "OracleFn",
    "load_entry_point_oracles",
    "no_listing",
    "oracle",
    "registered_oracles",
]
