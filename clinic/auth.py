"""Logins, password hashes and the request's user (bearer token or session cookie)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, select

from clinic.models import AuthToken, User, utcnow
from clinic.state import ClinicState, clinic_state

COOKIE = "session"
# "Welcome back": the login page greets whoever last signed in on this browser. It names the
# user id in clear, so nothing may trust it as a credential.
REMEMBER = "remember_user"
_ITERATIONS = 2_000  # synthetic staging users only; keeps load tests CPU-light
_bearer = HTTPBearer(auto_error=False, description="token from POST /api/login")


def hash_password(password: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _ITERATIONS)
    return f"{salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    salt, _, expected = stored.partition("$")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _ITERATIONS)
    return hmac.compare_digest(digest.hex(), expected)


def login(state: ClinicState, username: str, password: str) -> tuple[str, User] | None:
    with state.db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not check_password(password, user.password_hash):
            return None
        token = secrets.token_urlsafe(24)
        session.add(AuthToken(token=token, user_id=user.id, created_at=utcnow()))
    state.tokens.remember(token, user.id)
    return token, user


def logout(state: ClinicState, token: str) -> None:
    state.tokens.forget(token)
    with state.db.write() as session:
        session.execute(delete(AuthToken).where(AuthToken.token == token))


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def user_for_token(state: ClinicState, token: str | None) -> User | None:
    if not token or len(token) > 100:
        return None
    # The token's user id is remembered at login (tokens never change owner), and so is the
    # user row (see clinic.tokens for when it is forgotten).
    user_id = state.tokens.user_id(token)
    if user_id is not None:
        cached = state.tokens.user(user_id)
        if cached is not None:
            return cached
        # Taken before the transaction's snapshot: a row forgotten after that is not stored.
        generation = state.tokens.generation(user_id)
    with state.db.read() as session:
        if user_id is None:
            found = session.get(AuthToken, token)
            if found is None:
                return None
            state.tokens.remember(token, found.user_id)
            return found.user
        user = session.get(User, user_id)
        if user is not None:
            state.tokens.keep_user(user, generation)
        return user


async def current_user(
    request: Request,
    state: Annotated[ClinicState, Depends(clinic_state)],
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    token = request_token(request)
    user = user_for_token(state, token)
    if user is None and token is None and state.active("forged-identity-accepted"):
        user = _remembered(state, request.cookies.get(REMEMBER, ""))
    if user is None:
        raise HTTPException(401, "not authenticated: log in with POST /api/login")
    return user


def _remembered(state: ClinicState, value: str) -> User | None:
    """The bug: a session that expired is revived from the "welcome back" cookie, which is
    neither signed nor secret."""
    if not value.isdigit():
        return None
    with state.db.read() as session:
        return session.get(User, int(value))


async def current_clinician(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "clinician":
        raise HTTPException(403, "clinicians only")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
CurrentClinician = Annotated[User, Depends(current_clinician)]
State = Annotated[ClinicState, Depends(clinic_state)]
