"""What a fork server (harness.zygote) and its clients (harness.zygote_client) say to each
other: one JSON line each way per message, over a Unix socket. No I/O here.

    client → server   {"argv": [...], "env": {...}, "cwd": "..."}   + 3 fds (stdin, out, err)
    server → client   {"pid": N}                  the child runs
                      {"exit": CODE, "cpu": S}    it exited (CODE < 0: killed by signal -CODE);
                                                  S: its CPU seconds, and its children's
                      {"refused": "why"}          nothing was started

One connection carries one child. A client that closes its connection before the exit line
asks for the child to be stopped: that is how a child dies with the process that asked for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LINE_LIMIT = 1 << 20  # bytes; an environment and an argv are a few kB
FD_COUNT = 3  # stdin, stdout, stderr, passed with SCM_RIGHTS


class WireError(ValueError):
    """A message that is not one of the above."""


@dataclass(frozen=True, slots=True)
class Request:
    """`python -m MODULE ARGS...` in `cwd`, with exactly `env`."""

    module: str
    args: tuple[str, ...]
    env: dict[str, str]
    cwd: str


@dataclass(frozen=True, slots=True)
class Reply:
    pid: int | None = None
    exit_code: int | None = None
    cpu_seconds: float = 0.0
    refused: str | None = None


def request(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    return _line({"argv": list(argv), "env": dict(env), "cwd": cwd})


def parse_request(data: bytes, entries: Sequence[str]) -> Request:
    """The request, if it runs `python -m M` for a module M under one of `entries`."""
    doc = _doc(data)
    argv, env, cwd = doc.get("argv"), doc.get("env"), doc.get("cwd")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise WireError("argv must be a list of strings")
    if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        raise WireError("env must map names to strings")
    if not isinstance(cwd, str) or not cwd:
        raise WireError("cwd must be a directory")
    # Only this interpreter running a module this server preloaded for: anything else would
    # not be what the caller asked for (another Python, a script), so it is refused and the
    # caller starts it the ordinary way.
    if len(argv) < 3 or argv[0] != sys.executable or argv[1] != "-m":
        raise WireError(f"not `{sys.executable} -m MODULE ...`")
    module = argv[2]
    if not any(module == e or module.startswith(e + ".") for e in entries):
        raise WireError(f"module {module!r} is not one this server runs ({', '.join(entries)})")
    return Request(module, tuple(argv[3:]), dict(env), cwd)


def started(pid: int) -> bytes:
    return _line({"pid": pid})


def exited(code: int, cpu_seconds: float) -> bytes:
    return _line({"exit": code, "cpu": round(cpu_seconds, 3)})


def refused(why: str) -> bytes:
    return _line({"refused": why})


def parse_reply(data: bytes) -> Reply:
    doc = _doc(data)
    pid, code, cpu, why = doc.get("pid"), doc.get("exit"), doc.get("cpu"), doc.get("refused")
    if isinstance(pid, int):
        return Reply(pid=pid)
    if isinstance(code, int) and isinstance(cpu, int | float):
        return Reply(exit_code=code, cpu_seconds=float(cpu))
    if isinstance(why, str):
        return Reply(refused=why)
    raise WireError(f"unexpected reply {data[:200]!r}")


def _line(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def _doc(data: bytes) -> dict[str, object]:
    if len(data) > LINE_LIMIT:
        raise WireError(f"message longer than {LINE_LIMIT} bytes")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise WireError("not a JSON object")
    return doc
