"""Where a run goes: the given target (with its support token), or a freshly started local
clinic; and the notification sinks (SMTP, SMS) the target sends to."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import httpx

from chaperone.checks import check_target
from harness.errors import UsageError
from harness.local_clinic import local_clinic
from harness.profile import LoadedProfile, load_profile
from harness.sinks import Sinks, clinic_wiring, default_listen, sinks_for


def profile_of(name_or_path: str) -> LoadedProfile:
    return load_profile(name_or_path)


@contextlib.contextmanager
def notification_sinks(
    profile: LoadedProfile, listen: str = "", target: str | None = None
) -> Iterator[Sinks | None]:
    """The SMTP and SMS sinks, running, when the profile says notifications arrive there: on
    `listen`; else, for a `target` the harness did not start, where `chaperone clinic serve`
    sends by default (harness.sinks.default_listen); else on free ports, which the local
    clinic is wired to."""
    if profile.profile.notifications is None:
        yield None
        return
    host, smtp_port, sms_port = _listen(listen or (default_listen() if target else ""))
    with sinks_for(profile.profile, host, (smtp_port, sms_port)) as sinks:
        yield sinks


# The bundled clinic's /healthz carries it (clinic/routes/api_account.py); a gate against a
# target that answers with it signs a reference verdict, wherever that target runs.
REFERENCE_HEADER = "Chaperone-Reference"


def reports_reference(url: str, profile: LoadedProfile) -> bool:
    """True when the target says it is the bundled reference clinic (its health read answers
    with REFERENCE_HEADER). One request before the run; a target that does not answer is the
    run's problem to report, not this probe's."""
    health = profile.profile.health
    path = health.path if health is not None and health.path.startswith("/") else "/"
    try:
        answer = httpx.get(url.rstrip("/") + path, timeout=5.0, follow_redirects=False)
    except httpx.HTTPError:
        return False
    said: str = answer.headers.get(REFERENCE_HEADER, "")
    return said.strip().lower() == "clinic"


def _listen(spec: str) -> tuple[str, int, int]:
    if not spec:
        return "127.0.0.1", 0, 0
    host, _, ports = spec.rpartition(":")
    smtp, _, sms = ports.partition(",")
    if not host or not smtp.isdigit() or not sms.isdigit():
        raise UsageError(
            f"--listen '{spec}' is not HOST:SMTP_PORT,SMS_PORT",
            "pass something like --listen 0.0.0.0:2525,8025",
        )
    return host, int(smtp), int(sms)


@contextlib.contextmanager
def target_of(
    target: str | None,
    support_token: str | None,
    faults: str,
    profile: LoadedProfile,
    sinks: Sinks | None = None,
    media: str = "header",
) -> Iterator[tuple[str, str]]:
    """Yields (url, support token): the given target, or a freshly started local clinic
    (wired to the notification sinks, when there are any)."""
    if target is not None:
        if faults:
            raise UsageError(
                "--faults only applies to the local clinic", "drop --target or --faults"
            )
        token = support_token or ""
        if profile.profile.needs_support():
            env = profile.profile.support.token_env if profile.profile.support else ""
            token = token or os.environ.get(env, "")
            if not token:
                raise UsageError(
                    f"profile '{profile.profile.name}' uses a staging support API, but no "
                    "support token was given",
                    f"set {env} (or pass --support-token)",
                )
        yield check_target(target), token
        return
    if profile.profile.name != "clinic":
        raise UsageError(
            f"no --target for profile '{profile.profile.name}'",
            "pass --target with the URL of your staging deployment",
        )
    names = tuple(f.strip() for f in faults.split(",") if f.strip())
    wiring = [*clinic_wiring(sinks), *(["--media", media] if media != "header" else [])]
    with local_clinic(names, extra_args=wiring) as clinic:
        yield clinic.url, clinic.support_token
