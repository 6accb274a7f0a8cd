"""'Recording ready' e-mail and SMS, against a real SMTP server and webhook: each reaches the
recording's owner only, off the request path, and a broken mail server never fails a call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinic.settings import ClinicSettings
from tests.clinic.outbound import Mailbox, RestartingSmtp, free_port, sms_webhook, smtp_server
from tests.clinic.server import running_clinic
from tests.clinic.world import EMAIL, PATIENTS, PHONE, SUPPORT, SUPPORT_TOKEN, World, seed

pytestmark = pytest.mark.integration


@contextmanager
def clinic(tmp_path: Path, *faults: str, **settings: Any) -> Iterator[World]:
    config = ClinicSettings(
        data_dir=tmp_path / "clinic",
        support_token=SUPPORT_TOKEN,
        switch_negotiation_seconds=0.0,
        faults=frozenset(faults),
        **settings,
    )
    with running_clinic(config) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield seed(client)


def flush(world: World) -> dict[str, Any]:
    response = world.client.post("/_support/notifications/flush", headers=SUPPORT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is True
    return body


def interleaved_calls(world: World) -> None:
    """alice joins, bob joins, then each ends: the last call joined is bob's when alice ends."""
    world.call("alice", "join")
    world.call("bob", "join")
    assert world.call("alice", "end").status_code == 200
    assert world.call("bob", "end").status_code == 200


def misdirected_mail(mailbox: Mailbox) -> list[str]:
    leaks = []
    for user, address in EMAIL.items():
        for message in mailbox.to(address):
            text = f"{message['Subject']}\n{message.get_payload()}"
            leaks += [f"{other} -> {user}" for other in _others_in(text, user)]
    return leaks


def misdirected_sms(received: list[dict[str, Any]]) -> list[str]:
    owner = {phone: user for user, phone in PHONE.items()}
    return [
        f"{other} -> {owner[sms['to']]}"
        for sms in received
        for other in _others_in(sms["text"], owner[sms["to"]])
    ]


def _others_in(text: str, user: str) -> list[str]:
    return [u for u, (name, _, reason) in PATIENTS.items() if u != user and name in text]


def test_mail_and_sms_reach_the_owner(tmp_path: Path) -> None:
    with (
        smtp_server() as (smtp, mailbox),
        sms_webhook() as (url, texts),
        clinic(tmp_path, smtp=smtp, sms_webhook=url) as world,
    ):
        interleaved_calls(world)
        assert flush(world)["sent"] == 4
    for user in ("alice", "bob"):
        name, _, reason = PATIENTS[user]
        (mail,) = mailbox.to(EMAIL[user])
        assert mail["Subject"] == f"Your recording is ready: audio recording: {reason}"
        assert name in mail.get_payload() and reason in mail.get_payload()
        (sms,) = [t for t in texts if t["to"] == PHONE[user]]
        assert name in sms["text"] and reason in sms["text"]
    assert not mailbox.to(EMAIL["carol"])
    assert misdirected_mail(mailbox) == [] and misdirected_sms(texts) == []


@pytest.mark.parametrize("fault", ["mail-wrong-recipient", None])
def test_mail_wrong_recipient(tmp_path: Path, fault: str | None) -> None:
    faults = [fault] if fault else []
    with smtp_server() as (smtp, mailbox), clinic(tmp_path, *faults, smtp=smtp) as world:
        interleaved_calls(world)
        flush(world)
    assert len(mailbox.messages) == 2
    assert bool(misdirected_mail(mailbox)) is (fault is not None), misdirected_mail(mailbox)


@pytest.mark.parametrize("fault", ["sms-wrong-recipient", None])
def test_sms_wrong_recipient(tmp_path: Path, fault: str | None) -> None:
    faults = [fault] if fault else []
    with sms_webhook() as (url, texts), clinic(tmp_path, *faults, sms_webhook=url) as world:
        interleaved_calls(world)
        flush(world)
    assert len(texts) == 2
    assert bool(misdirected_sms(texts)) is (fault is not None), misdirected_sms(texts)


def test_mail_still_arrives_after_the_mail_server_restarts(tmp_path: Path) -> None:
    """The sender keeps one SMTP session open across mails; when the server has dropped it
    (here: restarted in between), the next mail opens a new one instead of being lost."""
    server = RestartingSmtp()
    try:
        with clinic(tmp_path, smtp=server.address) as world:
            world.call("alice", "join")
            world.call("alice", "end")
            assert flush(world)["sent"] == 1
            before, after = server.mailbox, server.restart()
            world.call("bob", "join")
            world.call("bob", "end")
            assert flush(world) == {"ok": True, "sent": 2, "failed": 0}
    finally:
        server.stop()
    assert len(before.to(EMAIL["alice"])) == 1
    assert len(after.to(EMAIL["bob"])) == 1


def test_a_slow_mail_server_adds_no_latency(tmp_path: Path) -> None:
    with smtp_server(delay=2.0) as (smtp, mailbox), clinic(tmp_path, smtp=smtp) as world:
        world.call("alice", "join")
        started = time.monotonic()
        assert world.call("alice", "end").status_code == 200
        assert time.monotonic() - started < 1.0
        flush(world)
    assert len(mailbox.to(EMAIL["alice"])) == 1


def test_an_unreachable_mail_server_never_fails_a_call(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    with clinic(tmp_path, smtp=closed, sms_webhook=f"http://{closed}/sms") as world:
        world.call("alice", "join")
        assert world.call("alice", "end").status_code == 200
        assert flush(world) == {"ok": True, "sent": 0, "failed": 2}
        assert world.recordings("alice")
