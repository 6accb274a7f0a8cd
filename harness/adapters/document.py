"""The app's OpenAPI document, when the profile has `discover:`: every route it names, the
document's names for the profile's routes, and the GET routes left to discover."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from harness.adapters.http import HttpDriver
from harness.bounded import read_bounded_text
from harness.client.discovery import Discovered, RouteTable, discovered_routes, parse_document
from harness.client.variants import offered_types
from harness.errors import ConfigError
from harness.profile.steps import Prepared
from harness.profile.template import route_of

__all__ = ["DocumentRoutes"]


class DocumentRoutes:
    def __init__(self, http: HttpDriver, profile_dir: Path) -> None:
        self.http = http
        self.profile = http.client.profile
        self.profile_dir = profile_dir
        self.discovered: list[Discovered] = []
        self._routes = RouteTable(())
        self._canonical: dict[str, str] = {}
        self._every: list[str] = []

    async def load(self) -> None:
        spec = self.profile.discover
        assert spec is not None
        local = self.profile_dir / spec.openapi
        if local.is_file() or not spec.openapi.startswith("/"):
            try:
                text = read_bounded_text(local, "OpenAPI document")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the OpenAPI document {local}: {exc.strerror}",
                    "fix discover.openapi (a URL path on the target, or a file)",
                ) from None
            document = parse_document(text, str(local))
        else:
            client = self.http.client
            prep = Prepared("GET", spec.openapi, f"GET {spec.openapi}", auth="none")
            obs = await self.http.send(client.request(None, prep, "discover", retry=True))
            if obs.status != 200:
                raise ConfigError(
                    f"the target answered {obs.status} for its OpenAPI document {spec.openapi}",
                    "fix discover.openapi, or drop discover: to use explicit reads only",
                )
            try:
                document = parse_document(obs.body.decode("utf-8", "replace"), spec.openapi)
            except ConfigError as exc:
                # Name what came back: an HTML maintenance page is not a broken profile.
                raise ConfigError(
                    f"the target answered {obs.content_type or 'no content type'} for its "
                    f"OpenAPI document {spec.openapi}: {exc.problem}",
                    exc.fix,
                ) from None
        every = [f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item]
        self._routes = RouteTable(every)
        self._every = every
        self.http.client.offers = offered_types(document)
        # The document's names win: `/api/recordings/{{recording.id}}` in the profile and
        # `/api/recordings/{recording_id}` in the document are one route.
        self._canonical = {_shape(route): route for route in every}
        explicit = {
            self.canonical(route_of(s.method, s.path))
            for read in self.profile.reads
            for s in read.steps
        }
        own_calls = {
            self.canonical(route_of(s.method, s.path))
            for s in [*self.profile.auth.login, *self.profile.reset]
        }
        self.discovered = [
            d
            for d in discovered_routes(document, explicit | own_calls, spec.exclude)
            if not self.http.client.is_unsafe(d.route)
        ]

    def routes(self) -> list[str]:
        """Every route the document names (any method); empty without a document."""
        return list(self._every)

    def canonical(self, route: str) -> str:
        """The OpenAPI document's name for a route, when the app has a document."""
        return self._canonical.get(_shape(route), route)

    def routed(self, prep: Prepared) -> Prepared:
        """A path that came from a capture reports under the document's route for it; any
        other route under the document's name for it."""
        if "{" in prep.route and prep.route.split(" ", 1)[1].startswith("{"):
            found = self._routes.route(prep.method, prep.path)
            return replace(prep, route=found or f"{prep.method} {prep.path.split('?', 1)[0]}")
        return replace(prep, route=self.canonical(prep.route))


def _shape(route: str) -> str:
    """A route with its parameter names erased: the same route under any naming."""
    return re.sub(r"\{[^}]*\}", "{}", route)
