"""What the harness-side runner and the Locust processes agree on: environment variables and
file names. Both sides import this module, so it must stay free of Locust and gevent."""

from __future__ import annotations

ENV_LOCUST = "CHAPERONE_LOCUST"  # the Locust command line, when not this interpreter's
ENV_WORLD = "CHAPERONE_LOAD_WORLD"  # path of world.json
ENV_FINDINGS = "CHAPERONE_LOAD_FINDINGS"  # directory for findings-<pid>.jsonl
ENV_CHECK = "CHAPERONE_LOAD_CHECK"  # "0" disables leak checking (the benchmark's bare baseline)
ENV_SWITCH_USERS = "CHAPERONE_LOAD_SWITCH_USERS"  # how many of the users drive switches
ENV_WAVE_SECONDS = "CHAPERONE_LOAD_WAVE_SECONDS"  # period of the simultaneous switch waves
ENV_WORKERS = "CHAPERONE_LOAD_WORKERS"  # how many worker processes share the users (0 or 1: local)

WORLD_FILE = "world.json"
FINDINGS_DIR = "findings"
CSV_PREFIX = "locust"
JSON_FILE = "locust.json"
LOG_FILE = "locust.log"

# Locust request names: the SLOs read their p95 from these rows of the stats.
RECORDINGS_LIST = "GET /api/me/recordings"
MEDIA_FIRST_BYTE = "media first byte"
AGGREGATED = "Aggregated"
