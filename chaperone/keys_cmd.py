"""`chaperone keys generate`: the gate's Ed25519 key pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flags.keys import PUBLIC_KEY_ENV, SIGNING_KEY_ENV, generate
from reports.terminal import make_console

app = typer.Typer(
    name="keys",
    help="The gate's signing key pair.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option(help="Directory for gate.key and gate.pub.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing pair.")] = False,
) -> None:
    """Create an Ed25519 key pair: gate.key (private, mode 0600) and gate.pub.

    Store gate.key as a CI secret and give it to `chaperone gate` only, as
    CHAPERONE_GATE_SIGNING_KEY (the PEM text) or --signing-key-file. Give gate.pub to whoever
    runs `chaperone flags enable` and `chaperone watch` (CHAPERONE_GATE_PUBLIC_KEY or
    --verify-key): the public key verifies verdicts and cannot make them.
    """
    private, public = generate(out, force)
    console = make_console(highlight=False)
    console.print(f"private key: {private} (mode 0600; CI secret {SIGNING_KEY_ENV}, gate only)")
    console.print(f"public key:  {public} ({PUBLIC_KEY_ENV} or --verify-key, for verifiers)")
