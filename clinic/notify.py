"""Outbound patient notifications: e-mail over SMTP and SMS through a webhook.

Messages are composed in the request (a few fields it already has) and sent by one background
thread, so a slow or down mail server never adds latency to a call and never turns into a 5xx:
a failed send is logged and dropped. `flush()` waits until everything queued has been tried.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import smtplib
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from clinic.settings import ClinicSettings

SENDER = "GP Online <no-reply@gp-online.invalid>"
SEND_TIMEOUT = 10.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Sms:
    to: str
    text: str


Message = Mail | Sms


class Outbox:
    def __init__(self, settings: ClinicSettings) -> None:
        self._settings = settings
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self.sent = 0
        self.failed = 0
        self._sms_payload: dict[str, str] = {"from": "GP Online"}
        self._thread: threading.Thread | None = None
        # One client for every SMS, used only by the sender thread: a client per message
        # built a TLS context each time, the clinic's costliest step under a switch storm.
        self._http: httpx.Client | None = None
        self._smtp: smtplib.SMTP | None = None  # the sender thread's open session, if any
        if self.mail_enabled or self.sms_enabled:
            self._thread = threading.Thread(target=self._run, name="clinic-outbox", daemon=True)
            self._thread.start()

    @property
    def mail_enabled(self) -> bool:
        return self._settings.smtp_address is not None

    @property
    def sms_enabled(self) -> bool:
        return self._settings.sms_webhook is not None

    def submit(self, message: Message) -> None:
        if self._thread is None:
            return
        with self._idle:
            self._pending += 1
        self._queue.put(message)

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted message has been tried; False if `timeout` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def reset(self) -> None:
        self._sms_payload = {"from": "GP Online"}

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=SEND_TIMEOUT)
        self._close_smtp()
        if self._http is not None:
            self._http.close()

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._deliver(message)
                self.sent += 1
            except Exception as exc:  # a notification failure must never stop the sender
                self.failed += 1
                log.warning("could not send %s: %s", type(message).__name__.lower(), exc)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, message: Message) -> None:
        if isinstance(message, Mail):
            self._send_mail(message)
        else:
            self._send_sms(message)

    def _send_mail(self, mail: Mail) -> None:
        address = self._settings.smtp_address
        assert address is not None
        email = EmailMessage()
        email["From"], email["To"] = SENDER, mail.to
        email["Subject"] = " ".join(mail.subject.split())  # no header injection via a reason
        email.set_content(mail.body)
        # One SMTP session for successive mails, as mail relays do. (A new session per mail
        # cost a connection and a handshake on both ends for every "recording ready".)
        for attempt in (1, 2):
            reused = self._smtp is not None
            try:
                self._smtp_session(address).send_message(email)
                return
            except Exception as exc:
                # A session that failed is never used again: after a timeout or a refusal
                # mid-message its state is unknown, and the next mail would inherit it.
                self._close_smtp()
                dropped = isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)
                # Only a kept session the server dropped earns a second try on a new one;
                # a fresh session that fails (refused, timed out) is the server's answer.
                if attempt == 2 or not (reused and dropped):
                    raise

    def _smtp_session(self, address: tuple[str, int]) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = smtplib.SMTP(address[0], address[1], timeout=SEND_TIMEOUT)
        return self._smtp

    def _close_smtp(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()

    def _send_sms(self, sms: Sms) -> None:
        url = self._settings.sms_webhook
        assert url is not None
        if self._http is None:
            self._http = httpx.Client(timeout=SEND_TIMEOUT)
        response = self._http.post(url, json=self._sms_body(sms))
        response.raise_for_status()

    def _sms_body(self, sms: Sms) -> dict[str, Any]:
        if self._settings.active("sms-wrong-recipient"):
            # The payload is one dict reused across sends; setdefault keeps its first "to".
            self._sms_payload.setdefault("to", sms.to)
            self._sms_payload["text"] = sms.text
            return {"to": self._sms_payload["to"], "text": self._sms_payload["text"]}
        return {"to": sms.to, "text": sms.text}
