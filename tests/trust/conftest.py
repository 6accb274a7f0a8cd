"""The trust matrix reuses the flags tests' fixtures: a key pair, a policy with its own
profile file, a pinned local backend, signed verdicts and an in-process `chaperone flags`."""

from tests.flags.conftest import (  # noqa: F401 (pytest finds fixtures by name)
    bound,
    cli,
    gate_keys,
    policy,
    policy_file,
    state,
    verdict_file,
)
from tests.trust.test_fail_closed_matrix import gate_in_process  # noqa: F401
