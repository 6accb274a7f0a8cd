"""The fork server's messages: what it accepts, what it refuses."""

from __future__ import annotations

import sys

import pytest

from harness import zygote_wire as wire

ENTRIES = ("chaperone",)


def test_a_request_round_trips() -> None:
    data = wire.request([sys.executable, "-m", "chaperone", "run", "--x"], {"A": "1"}, "/tmp")
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    got = wire.parse_request(data, ENTRIES)
    assert got == wire.Request("chaperone", ("run", "--x"), {"A": "1"}, "/tmp")
    sub = wire.request([sys.executable, "-m", "chaperone.sub"], {}, "/")
    assert wire.parse_request(sub, ENTRIES).module == "chaperone.sub"


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["/usr/bin/python3.9", "-m", "chaperone"], "not `"),
        ([sys.executable, "-c", "print(1)"], "not `"),
        ([sys.executable, "-m"], "not `"),
        ([sys.executable, "-m", "chaperonex"], "is not one this server runs"),
        ([sys.executable, "-m", "os"], "is not one this server runs"),
    ],
)
def test_only_this_python_running_an_entry_module_is_accepted(argv: list[str], why: str) -> None:
    with pytest.raises(wire.WireError, match=why):
        wire.parse_request(wire.request(argv, {}, "/"), ENTRIES)


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b"[1]\n",
        b'{"argv": "x", "env": {}, "cwd": "/"}\n',
        b'{"argv": [], "env": {"A": 1}, "cwd": "/"}\n',
        b'{"argv": [], "env": {}, "cwd": ""}\n',
        b"{" + b" " * wire.LINE_LIMIT + b"}\n",
    ],
)
def test_malformed_requests_are_refused(data: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_request(data, ENTRIES)


def test_replies() -> None:
    assert wire.parse_reply(wire.started(42).strip()) == wire.Reply(pid=42)
    assert wire.parse_reply(wire.exited(-9, 1.23456)) == wire.Reply(exit_code=-9, cpu_seconds=1.235)
    assert wire.parse_reply(wire.refused("no")) == wire.Reply(refused="no")
    with pytest.raises(wire.WireError, match="unexpected reply"):
        wire.parse_reply(b'{"exit": "0"}')
