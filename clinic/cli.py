"""`chaperone clinic serve|faults`: run the reference staging clinic.

Every user mistake (unknown fault, busy port, unwritable data dir, bad database URL) is one
line on stderr naming the problem and the fix, with exit code 2.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from clinic.app import build_state, create_app
from clinic.faults import FAULTS, catalog, parse_faults, unknown_fault_message
from clinic.settings import ClinicSettings, normalise_db_url, parse_smtp
from clinic.state import ClinicState

app = typer.Typer(
    name="clinic",
    help="The reference staging GP video-consultation clinic that Chaperone tests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_err = Console(stderr=True, soft_wrap=True, highlight=False)
KEEP_ALIVE_SECONDS = 75
# The harness's default notification sinks (harness.sinks.DEFAULT_LISTEN; the clinic imports
# nothing of Chaperone, so the agreement is written twice).
SINKS_ENV = "CHAPERONE_SINKS"
DEFAULT_SINKS = "127.0.0.1:2525,2526"
SWITCH_INTERVAL = 0.0005  # seconds; see serve()


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(2)


@app.command()
def faults(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="the whole catalog as JSON: each fault and where it shows (selftest)"
        ),
    ] = False,
) -> None:
    """List the planted faults that `serve --faults` can switch on."""
    if as_json:
        typer.echo(json.dumps(catalog(), indent=1))
        return
    width = max(map(len, FAULTS))
    for name, description in FAULTS.items():
        typer.echo(f"{name:<{width}}  {description}")


@app.command()
def serve(
    data_dir: Annotated[Path, typer.Option(help="where the database, media and flags live")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL; default SQLite")] = None,
    faults: Annotated[str | None, typer.Option(help="comma-separated planted faults")] = None,
    flags_file: Annotated[Path | None, typer.Option(help="Unleash features JSON")] = None,
    unleash_url: Annotated[str | None, typer.Option(help="Unleash API URL")] = None,
    unleash_token: Annotated[str | None, typer.Option(help="Unleash client token")] = None,
    support_token: Annotated[
        str | None, typer.Option(help="enables /_support", envvar="CHAPERONE_SUPPORT_TOKEN")
    ] = None,
    smtp: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of an SMTP server for patient e-mail, or 'off'. Default: where "
            "`chaperone run --target` listens by default (127.0.0.1:2525, or "
            "$CHAPERONE_SINKS)"
        ),
    ] = None,
    sms_webhook: Annotated[
        str | None,
        typer.Option(
            help="URL that receives each SMS as a JSON POST, or 'off'. Default: where "
            "`chaperone run --target` listens by default (http://127.0.0.1:2526/sms)"
        ),
    ] = None,
    media: Annotated[
        str,
        typer.Option(
            help="header: recordings are a text header naming the patient; real: calls are "
            "WebRTC over /ws/events and recordings are WebM of what was received"
        ),
    ] = "header",
) -> None:
    """Run the clinic with uvicorn in this process."""
    smtp, sms_webhook = _notification_defaults(smtp, sms_webhook)
    names = parse_faults(faults)
    message = unknown_fault_message(names)
    if message:
        raise _fail(message)
    _check_notifications(smtp, sms_webhook)
    if flags_file is not None and unleash_url is not None:
        raise _fail("--flags-file and --unleash-url are exclusive; pass only one flag source")
    if media not in ("header", "real"):
        raise _fail(f"--media {media!r}: choose header or real")
    _check_data_dir(data_dir)
    _check_port(host, port)
    settings = ClinicSettings(
        data_dir=data_dir,
        db_url=db,
        faults=frozenset(names),
        flags_file=flags_file,
        unleash_url=unleash_url,
        unleash_token=unleash_token,
        support_token=support_token,
        smtp=smtp,
        sms_webhook=sms_webhook,
        media=media,
    )
    state = _start_state(settings)
    # Each request hops between the event loop and a worker thread (sync endpoints); with the
    # default 5 ms GIL switch interval every hop can wait that long behind a busy thread, which
    # made requests queue at a fraction of the CPU they need.
    sys.setswitchinterval(SWITCH_INTERVAL)
    uvicorn.run(
        create_app(settings, state),
        host=host,
        port=port,
        log_level="warning",
        # Longer than any client's idle-connection expiry (httpx: 5 s), as servers behind a
        # load balancer are configured: otherwise the server may close an idle keep-alive
        # connection just as a client reuses it, and that request fails with no response.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def _notification_defaults(
    smtp: str | None, sms_webhook: str | None
) -> tuple[str | None, str | None]:
    """Unset: the harness's default sinks (so `clinic serve` then `chaperone run --target`
    agree with no options); 'off': none. A send nobody receives is logged and dropped."""
    spec = os.environ.get(SINKS_ENV) or DEFAULT_SINKS
    host, _, ports = spec.rpartition(":")
    mail_port, _, sms_port = ports.partition(",")
    if smtp is None:
        smtp = f"{host}:{mail_port}"
    if sms_webhook is None:
        sms_webhook = f"http://{host}:{sms_port}/sms"
    return (None if smtp == "off" else smtp), (None if sms_webhook == "off" else sms_webhook)


def _check_notifications(smtp: str | None, sms_webhook: str | None) -> None:
    if smtp is not None:
        try:
            parse_smtp(smtp)
        except ValueError as exc:
            raise _fail(f"{exc}; pass --smtp HOST:PORT") from None
    if sms_webhook is not None and not sms_webhook.startswith(("http://", "https://")):
        raise _fail(
            f"--sms-webhook {sms_webhook!r} is not an http(s) URL; pass e.g. "
            "http://127.0.0.1:9000/sms"
        )


def _check_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _fail(
            f"data dir {data_dir} is not writable ({reason}); pass a writable --data-dir"
        ) from None


def _check_port(host: str, port: int) -> None:
    try:
        with socket.socket() as sock:
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _fail(
                f"port {port} on {host} is already in use; stop that server or pass --port"
            ) from None
        raise _fail(f"cannot listen on {host}:{port} ({exc.strerror}); check --host") from None


def _start_state(settings: ClinicSettings) -> ClinicState:
    url = settings.database_url
    try:
        return build_state(settings)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise _fail(
            f"bad database URL {_redact(url)!r} ({_first_line(exc)}); use e.g. "
            "postgresql://user@host:5432/db or omit --db for SQLite"
        ) from None
    except OSError as exc:
        raise _fail(
            f"cannot write {exc.filename or settings.data_dir} ({exc.strerror}); "
            "pass a writable --data-dir or --flags-file"
        ) from None
    except SQLAlchemyError as exc:
        raise _fail(
            f"cannot use database {_redact(url)!r} ({_first_line(exc)}); check it is running "
            "and the URL, or omit --db for SQLite"
        ) from None


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(normalise_db_url(url)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


if __name__ == "__main__":  # pragma: no cover
    app()
