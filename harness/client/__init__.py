"""The profile client: one app's protocol, written once, with no I/O of its own (sans-IO).

    ProfileClient ─ login, re-login on `relogin.on_status` or age, the session check, coverage
    reads        ─ a read's steps and captures, lists walked (Link, JSON next, cursor, page,
                   offset, HTML rel=next) to their end or bound, media in two Range requests
    flows        ─ a flow's steps, judged against `expect` and `conflict`
    scope        ─ placeholder values: user, owner, relations, run, support token, resource
    memory       ─ what a user learnt: entities seen, values seen, reads made once

Each operation is a generator that yields `Send` / `Relogin` and receives the answer, as
httpx's `Auth.auth_flow` does. The drivers only send: `harness.adapters` (async httpx), the
load's virtual user (Locust, blocking) and the browser suite (placeholder values only).
Nothing here imports a transport; an import-linter contract keeps it so.
"""

from harness.client.core import LoginRefused, ProfileClient, expects
from harness.client.flows import FlowRun, run_flow
from harness.client.memory import Memory
from harness.client.protocol import Flow, Instruction, Relogin, Send, run_sync
from harness.client.reads import RANGE_CUT, read
from harness.client.scope import scope_for, vars_of
from harness.client.session import Session

__all__ = [
    "RANGE_CUT",
    "Flow",
    "FlowRun",
    "Instruction",
    "LoginRefused",
    "Memory",
    "ProfileClient",
    "Relogin",
    "Send",
    "Session",
    "expects",
    "read",
    "run_flow",
    "run_sync",
    "scope_for",
    "vars_of",
]
