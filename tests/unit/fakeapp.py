"""A tiny app behind httpx.MockTransport, described by a profile, for ProfileTarget unit tests.

Users sign up and log in for a bearer token that the test can expire at will; each user has a
name and notes; notes are listed in pages. Knobs let a test make the app misbehave: expire every
token, answer 401 forever, answer 5xx, leak everyone's notes, or do nothing at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from harness.profile.model import TargetProfile

PER_PAGE = 2


@dataclass
class FakeApp:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    logins: int = 0
    expire_all: bool = False  # every token is refused once (a forced expiry)
    refuse_forever: bool = False  # 401 whatever the token (a broken session)
    fail_5xx: bool = False
    leak: bool = False  # /notes lists everyone's notes
    big: tuple[int, int, bytes] | None = None  # GET /big streams (size, at, secret at offset)
    echo_other: bool = False  # PUT /users/{name}/name applies to, and answers with, anyone's
    jwt: bool = False  # log in for an HS256 JWT naming the user in `sub`
    verify: bool = True  # ... whose signature and expiry are checked (False: trusted unread)
    to_caller: bool = False  # ... applies to the caller, whoever the URL names (VAmPI's way)
    reset_failures: int = 0  # the next N resets answer 500 (VAmPI's /createdb, now and then)
    csv_unchecked: bool = False  # a note asked for as CSV (`Accept: text/csv`) is anyone's
    by_text: bool = False  # /notes lists notes by their text, not in the order they were made
    requests: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        path, query = request.url.path, parse_qs(urlsplit(str(request.url)).query)
        if request.method == "POST" and path == "/reset":
            if self.reset_failures > 0:
                self.reset_failures -= 1
                return httpx.Response(500, json={"detail": "UNIQUE constraint failed"})
            self.users.clear()
            self.tokens.clear()
            return httpx.Response(200, json={"ok": True})
        if request.method == "POST" and path == "/signup":
            body = json.loads(request.content)
            uid = len(self.users) + 1
            notes = [f"note {i} by {body['name']}" for i in range(3)]
            self.users[body["username"]] = {**body, "id": uid, "notes": notes}
            return httpx.Response(200, json={"id": uid})
        if request.method == "POST" and path == "/login":
            body = json.loads(request.content)
            user = self.users.get(body["username"])
            if user is None or user["password"] != body["password"]:
                return httpx.Response(401, json={"detail": "bad credentials"})
            self.logins += 1
            token = _jwt(body["username"]) if self.jwt else f"t{self.logins}"
            self.tokens[token] = body["username"]
            return httpx.Response(200, json={"token": token})
        return self._authed(request, path, query)

    def _authed(
        self, request: httpx.Request, path: str, query: dict[str, list[str]]
    ) -> httpx.Response:
        auth = request.headers.get("authorization", "").removeprefix("Bearer ")
        username = self.tokens.get(auth)
        if username is None and self.jwt and not self.verify and auth.count(".") == 2:
            # the bug: the payload is believed without checking the signature
            payload = auth.split(".")[1]
            username = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[
                "sub"
            ]
            if username not in self.users:
                username = None
        if self.refuse_forever or username is None:
            return httpx.Response(401, json={"detail": "log in"})
        if self.expire_all:
            self.tokens.clear()
            self.expire_all = False
            return httpx.Response(401, json={"detail": "expired"})
        if self.fail_5xx:
            return httpx.Response(503, text="down")
        user = self.users[username]
        if path == "/big" and self.big is not None:
            return httpx.Response(200, content=_stream(*self.big), headers=_OCTETS)
        if path == "/me":
            return httpx.Response(200, json={"username": username, "name": user["name"]})
        if request.method == "PUT" and path.startswith("/users/"):
            return self._rename(username, path.split("/")[2], json.loads(request.content))
        if path == "/notes":
            return self._notes(user, int(query.get("page", ["1"])[0]))
        if path.startswith("/notes/"):
            as_csv = request.headers.get("accept", "") == "text/csv"
            return self._note(user, path.rsplit("/", 1)[1], as_csv)
        return httpx.Response(404, json={"detail": "no such route"})

    def _all_notes(self) -> list[dict[str, Any]]:
        return [
            {"id": f"{u['id']}-{i}", "owner_id": u["id"], "text": note}
            for u in self.users.values()
            for i, note in enumerate(u.get("notes", []))
        ]

    def _notes(self, user: dict[str, Any], page: int) -> httpx.Response:
        items = [n for n in self._all_notes() if self.leak or n["owner_id"] == user["id"]]
        if self.by_text:
            items.sort(key=lambda n: str(n["text"]))
        chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
        more = page * PER_PAGE < len(items)
        headers = {"link": f'</notes?page={page + 1}>; rel="next"'} if more else {}
        return httpx.Response(200, json={"items": chunk}, headers=headers)

    def _note(self, user: dict[str, Any], ident: str, as_csv: bool = False) -> httpx.Response:
        note = next((n for n in self._all_notes() if n["id"] == ident), None)
        # the bug: the CSV renderer was added later, beside the owner check, not behind it
        unchecked = self.leak or (as_csv and self.csv_unchecked)
        if note is None or (note["owner_id"] != user["id"] and not unchecked):
            return httpx.Response(404, json={"detail": "not found"})
        if as_csv:
            text = f"id,text\r\n{note['id']},{note['text']}\r\n"
            return httpx.Response(200, text=text, headers={"content-type": "text/csv"})
        return httpx.Response(200, json=note)

    def _rename(self, caller: str, named: str, body: dict[str, Any]) -> httpx.Response:
        if self.to_caller:
            named = caller
        elif named != caller and not self.echo_other:
            return httpx.Response(403, json={"detail": "not yours"})
        user = self.users.get(named)
        if user is None:
            return httpx.Response(404, json={"detail": "no such user"})
        user["name"] = body["name"]
        # the whole record, the owner's other private data included
        return httpx.Response(200, json={k: v for k, v in user.items() if k != "password"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def _jwt(username: str) -> str:
    def segment(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    head, body = segment({"alg": "HS256", "typ": "JWT"}), segment({"sub": username, "exp": 2**31})
    sig = hmac.new(b"fake secret", f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


_OCTETS = {"content-type": "application/octet-stream"}


async def _stream(size: int, at: int, secret: bytes) -> AsyncIterator[bytes]:
    """`size` bytes of filler, made as they are sent, with `secret` at offset `at`."""
    piece = 1 << 20
    for start in range(0, size, piece):
        chunk = bytearray(b"x" * min(piece, size - start))
        lo, hi = max(at, start), min(at + len(secret), start + len(chunk))
        if lo < hi:
            chunk[lo - start : hi - start] = secret[lo - at : hi - at]
        yield bytes(chunk)


PROFILE = {
    "name": "fake",
    "reset": [{"post": "/reset", "auth": "none"}],
    "roles": {
        "user": {
            "count": 6,
            "fields": {
                "username": {"kind": "username", "public": True},
                "password": {"kind": "password", "expect_seen": False},
                "name": "name",
            },
            "create": [
                {
                    "post": "/signup",
                    "auth": "none",
                    "json": {
                        "username": "{{user.username}}",
                        "password": "{{user.password}}",
                        "name": "{{user.name}}",
                    },
                    "capture": {"id": "/id"},
                }
            ],
        }
    },
    "auth": {
        "login": [
            {
                "post": "/login",
                "json": {"username": "{{user.username}}", "password": "{{user.password}}"},
                "capture": {"token": "/token"},
            }
        ],
        "headers": {"Authorization": "Bearer {{token}}"},
        "check": {"get": "/me"},
    },
    "entities": {"note": {"lists": ["GET /notes"], "owner": {"field": "/owner_id", "var": "id"}}},
    "reads": [
        {"get": "/me"},
        {"get": "/notes", "page": {"next": "link-header"}},
        {"get": "/notes/{{note.id}}", "each": "note"},
    ],
}


def profile(**changes: Any) -> TargetProfile:
    return TargetProfile.model_validate({**PROFILE, **changes})
