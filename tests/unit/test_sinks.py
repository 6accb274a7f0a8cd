"""Notifications reach a real SMTP server and an SMS webhook the harness runs; each message is
judged as its recipient received it, and an address nobody seeded is an outside observer."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import httpx

from harness.canaries import OwnershipModel
from harness.models import Actor, Canary, SurfaceKind
from harness.oracles import Judge
from harness.sinks import Sinks, observations_of
from harness.world import World


def _wait(sinks: Sinks, count: int) -> list:  # type: ignore[type-arg]
    got: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while len(got) < count and time.monotonic() < deadline:
        got += sinks.drain()
        time.sleep(0.05)
    return got


def test_mail_and_sms_are_judged_against_their_recipient() -> None:
    canary = Canary("zqaaaaaaaaaa", "p1", "name", "display name")
    world = World(
        "http://x",
        0,
        {"p1": Actor("p1", "patient"), "p2": Actor("p2", "patient")},
        OwnershipModel.build([canary], {}),
    )
    judge = Judge.from_world(world)
    book = {
        "mail": {"p1@example.test": "p1", "p2@example.test": "p2"},
        "sms": {"+447700900001": "p1", "+447700900002": "p2"},
    }
    with Sinks() as sinks:
        host, port = sinks.smtp_address.split(":")
        message = EmailMessage()
        message["From"], message["To"] = "gp@x.invalid", "p2@example.test"
        message["Subject"] = "Your recording is ready"
        message.set_content("Dear Ada Zqaaaaaaaaaa Lovelace")
        with smtplib.SMTP(host, int(port)) as smtp:
            smtp.send_message(message)
        httpx.post(sinks.sms_url, json={"to": "+447700900001", "text": "zqaaaaaaaaaa ready"})
        httpx.post(sinks.sms_url, json={"to": "+15550000000", "text": "zqaaaaaaaaaa ready"})
        got = _wait(sinks, 3)
    observations = observations_of(got, book, "switch/s")
    by = {(o.actor, o.surface_hint) for o in observations}
    assert by == {
        ("p2", SurfaceKind.MAIL),
        ("p1", SurfaceKind.SMS),
        ("external:+15550000000", SurfaceKind.SMS),
    }
    leaks = {(f.observer, f.surface.kind) for o in observations for f in judge(o)}
    # p1's own text is fine; the mail to p2 and the text to a stranger are exposures
    assert leaks == {("p2", SurfaceKind.MAIL), ("external:+15550000000", SurfaceKind.SMS)}
