"""Where a target's notifications arrive: a real SMTP server (aiosmtpd) and an SMS webhook sink,
both run by the harness.

A staging deployment is configured to send its e-mail to `smtp_address` and its text messages
to `sms_url` (the local clinic is started that way). Every message is kept with its recipients
and turned into an Observation *of the recipient*: the oracle then judges it like any response,
so "your recording is ready" mailed to the wrong patient is an exposure like any other.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from harness.errors import InfrastructureError
from harness.models import Observation, SurfaceKind
from harness.profile.model import TargetProfile

__all__ = [
    "DEFAULT_LISTEN",
    "SINKS_ENV",
    "Message",
    "Sinks",
    "clinic_wiring",
    "default_listen",
    "observations_of",
    "sinks_for",
]

EXTERNAL = "external:"  # prefix of an observer no synthetic user is: data left the population

# Where `run --target` listens when not told (`--listen`), and where `chaperone clinic serve`
# sends unless told otherwise (`--smtp`, `--sms-webhook`): the two agree, so the README's
# `clinic serve` then `run --target` works as written. CHAPERONE_SINKS moves both at once.
SINKS_ENV = "CHAPERONE_SINKS"
DEFAULT_LISTEN = "127.0.0.1:2525,2526"


def default_listen() -> str:
    """HOST:SMTP_PORT,SMS_PORT for a target the harness did not start."""
    return os.environ.get(SINKS_ENV) or DEFAULT_LISTEN


@dataclass(frozen=True, slots=True)
class Message:
    channel: str  # "mail" or "sms"
    recipients: tuple[str, ...]
    body: bytes
    time: float


class _MailHandler:
    def __init__(self, sinks: Sinks) -> None:
        self.sinks = sinks

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "replace")
        recipients = tuple(str(r).lower() for r in envelope.rcpt_tos)
        self.sinks.add(Message("mail", recipients, bytes(content), time.time()))
        return "250 Message accepted for delivery"


class Sinks:
    """Both sinks, started together. Thread-safe; `drain()` hands over what arrived."""

    def __init__(self, host: str = "127.0.0.1", smtp_port: int = 0, sms_port: int = 0) -> None:
        self.host = host
        self._smtp_port = smtp_port
        self._sms_port = sms_port
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        self._smtp: Controller | None = None
        self._http: ThreadingHTTPServer | None = None

    def add(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    def drain(self) -> list[Message]:
        with self._lock:
            taken, self._messages = self._messages, []
        return taken

    @property
    def smtp_address(self) -> str:
        assert self._smtp is not None, "start() first"
        return f"{self.host}:{self._smtp.port}"

    @property
    def sms_url(self) -> str:
        assert self._http is not None, "start() first"
        return f"http://{self.host}:{self._http.server_address[1]}/sms"

    def start(self) -> Sinks:
        try:
            # aiosmtpd cannot bind port 0 (it connects to its own port to check it is up).
            port = self._smtp_port or _free_port(self.host)
            self._smtp = Controller(_MailHandler(self), hostname=self.host, port=port)
            self._smtp.start()
            self._http = ThreadingHTTPServer((self.host, self._sms_port), _sms_handler(self))
        except OSError as exc:
            self.stop()
            raise InfrastructureError(
                f"cannot listen for notifications on {self.host}: {exc.strerror or exc}",
                "pick free ports with --listen HOST:SMTP_PORT,SMS_PORT",
            ) from None
        threading.Thread(target=self._http.serve_forever, daemon=True, name="sms-sink").start()
        return self

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> Sinks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_SMS_LIMIT = 1 << 20  # bytes of one text message kept
_SMS_DRAIN_LIMIT = 16 << 20  # bytes past that read and dropped to keep the connection


def _sms_handler(sinks: Sinks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as a real webhook endpoint: a sender that reuses its connection (the
        # clinic does) costs one connection and one handler thread, not one per text message.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(min(size, _SMS_LIMIT))
            if size > len(raw):
                self._discard(size - len(raw))
            try:
                payload = json.loads(raw)
                to = str(payload.get("to", "")).lower()
            except (ValueError, AttributeError):
                to, payload = "", {}
            sinks.add(Message("sms", (to,), raw, time.time()))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _discard(self, rest: int) -> None:
            # Read past what is kept rather than close with bytes unread: a socket closed with
            # unread input answers with a reset, which can reach the sender before our 204.
            if rest > _SMS_DRAIN_LIMIT:
                self.close_connection = True  # the unread rest would corrupt the next request
                return
            while rest > 0:
                chunk = self.rfile.read(min(rest, 1 << 16))
                if not chunk:
                    self.close_connection = True
                    return
                rest -= len(chunk)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the harness reports; the sink stays quiet

    return Handler


def observations_of(
    messages: list[Message], recipients: Mapping[str, Mapping[str, str]], step: str
) -> list[Observation]:
    """One Observation per message and recipient, as that recipient received it.

    `recipients[channel]` maps an address (lower-cased) to the actor it belongs to; an
    address no synthetic user has is observed as `external:<address>`: the data left the
    population, which nobody but its owner may be."""
    seen: list[Observation] = []
    for message in messages:
        kind = SurfaceKind.MAIL if message.channel == "mail" else SurfaceKind.SMS
        book = recipients.get(message.channel, {})
        for address in message.recipients or ("",):
            actor = book.get(address, f"{EXTERNAL}{address or 'nobody'}")
            seen.append(
                Observation(
                    actor=actor,
                    step=f"{step}/{message.channel}",
                    method=message.channel.upper(),
                    url=f"{message.channel}:{address}",
                    endpoint=f"{message.channel.upper()} notification",
                    status=200,
                    headers=(),
                    body=message.body,
                    # Delivery lags the event that caused it: judge against relations in force
                    # over the last few seconds, not only at the instant it arrived.
                    time=message.time,
                    elapsed=5.0,
                    surface_hint=kind,
                )
            )
    return seen


@contextlib.contextmanager
def sinks_for(
    profile: TargetProfile, host: str = "127.0.0.1", ports: tuple[int, int] = (0, 0)
) -> Iterator[Sinks | None]:
    """Running sinks when the profile says notifications arrive there, else None."""
    if profile.notifications is None:
        yield None
        return
    with Sinks(host, *ports) as sinks:
        yield sinks


def clinic_wiring(sinks: Sinks | None) -> tuple[str, ...]:
    """`chaperone clinic serve` options that send the local clinic's notifications to `sinks`."""
    if sinks is None:
        return ("--smtp", "off", "--sms-webhook", "off")
    return ("--smtp", sinks.smtp_address, "--sms-webhook", sinks.sms_url)
