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


def test_the_sms_sink_keeps_a_senders_connection_and_every_message() -> None:
    """A webhook sender that reuses its connection (the clinic's does) sends every text over
    it; an oversized body closes the connection rather than corrupting the next request."""
    with Sinks() as sinks, httpx.Client() as client:
        peers = set()
        for n in range(5):
            r = client.post(sinks.sms_url, json={"to": f"+44770090000{n}"})
            assert r.status_code == 204
            peers.add(r.extensions["network_stream"].get_extra_info("client_addr"))
        huge = client.post(sinks.sms_url, content=b"x" * ((1 << 20) + 10))
        after = client.post(sinks.sms_url, json={"to": "+447700900009"})
        got = _wait(sinks, 7)
    assert len(peers) == 1  # one connection for the five texts
    assert huge.status_code == 204 and after.status_code == 204
    assert {m.recipients for m in got} >= {(f"+44770090000{n}",) for n in range(5)}
    assert ("+447700900009",) in {m.recipients for m in got}
