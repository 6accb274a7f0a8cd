"""Reads: a read's steps in order (later ones use earlier captures), its list walked to the
end (`page:`) or to its bound (lost coverage), media fetched in two Range requests.

Every read is judged as it comes back (`ProfileClient.judge`); what the user learns from it
is the caller's to keep (`harness.client.memory`), since drivers that read side by side learn
in their own order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from harness.client.core import ProfileClient, expects
from harness.client.listing import next_page, page_route
from harness.client.protocol import Flow
from harness.client.session import Session
from harness.client.variants import variant_route, variants
from harness.errors import TargetUnreachable
from harness.models import Observation
from harness.profile.model import PageSpec, ReadSpec
from harness.profile.steps import Prepared, capture_all, is_success, prepare

__all__ = ["RANGE_CUT", "Reader", "joined", "read", "shapes"]

RANGE_CUT = 64  # first Range request ends here: inside the media header, where canaries sit


def read(
    client: ProfileClient,
    session: Session,
    spec: ReadSpec,
    scope: Mapping[str, Any],
    action: str,
    about: str = "",
    also_ok: frozenset[int] = frozenset(),
) -> Flow[list[Observation]]:
    """One read: its steps in order, the last one's list walked to its end. `also_ok`: more
    statuses the statistics count as success (a denial, for a read of someone else's)."""
    seen: list[Observation] = []
    captures: dict[str, Any] = {}
    for index, step in enumerate(spec.steps):
        prep = client.name_route(prepare(step, {**scope, **captures}))
        reader = Reader(client, session, action, spec, about, expects(step) | also_ok)
        last = index == len(spec.steps) - 1
        if step.range == "halves":
            got = yield from reader.halves(prep)
        elif last and spec.page is not None:
            got = yield from reader.pages(prep, spec.page)
        else:
            got = [(yield from reader.checked(prep))]
            if last and spec.each is None:
                reader.whole(prep.route, got[0])
        seen += got
        if not got or not is_success(step, got[-1].status):
            break  # later steps need this one's captures
        try:
            captures |= capture_all(step, got[-1].headers, got[-1].body)
        except KeyError:
            break
    else:
        own = about in ("", session.actor.id)
        if own and spec.steps[-1].method == "GET" and spec.steps[-1].range is None:
            seen += yield from shapes(client, session, spec, prep, action)
    return seen


def shapes(
    client: ProfileClient, session: Session, spec: ReadSpec, prep: Prepared, action: str
) -> Flow[list[Observation]]:
    """The owner's read again in its other request shapes (harness.client.variants), judged
    like it. A route's first `variant_reads` owner reads in a run get them; each variant's
    coverage is its own row ("GET /x (variant: accept)"). Each is marked replayable, with the
    headers that shape it: the access suite repeats it as each relation class toward the
    owner (scenarios.access), since a shape may be served to the wrong user when the plain
    read is not."""
    if client.variant_reads <= 0 or client.is_unsafe(prep.route):
        return []
    key = prep.route
    if client.variants_sent[key] >= client.variant_reads:
        return []
    client.variants_sent[key] += 1
    seed = client.world.seed if client.world is not None else 0
    reader = Reader(client, session, action, None, "", None)
    seen: list[Observation] = []
    offered, seen_values = client.offered(prep.route), client.queries_seen(prep.route)
    found = variants(
        prep.path, seed=seed, offered=offered, seen=seen_values, limit=client.variant_limit
    )
    replayable = spec.replay is not False
    for variant in found:
        shaped = replace(prep, path=variant.path)
        route = variant_route(prep.route, variant.kind)
        obs = yield from reader.checked(shaped, variant.headers, route=route)
        if replayable:
            obs = replace(obs, read=route, sent_headers=tuple(variant.headers.items()))
        seen.append(obs)
    client.coverage.read_from("variants", len(seen))
    return seen


@dataclass(frozen=True, slots=True)
class Reader:
    """One read's requests, as `session`, about `about`'s data (empty: the reader's own)."""

    client: ProfileClient
    session: Session
    action: str
    spec: ReadSpec | None  # None: a read the profile does not name (discovered, replayed)
    about: str
    ok: frozenset[int] | None  # success in the statistics

    def checked(
        self,
        prep: Prepared,
        extra: Mapping[str, str] | None = None,
        route: str | None = None,
        name: str = "",
    ) -> Flow[Observation]:
        """Send one read and record whether it really checked anything. The Observation
        names the route, whose data it read (when not the reader's), and whether it may be
        replayed."""
        client, about = self.client, self.about
        route = route or prep.route
        client.saw_query(prep)
        observer = self.session.actor.id
        fields = {"route": route, "name": name, "about": about, "extra": extra}
        try:
            flow = client.send(self.session, prep, self.action, ok=self.ok, retry=True, **fields)
            obs: Observation = yield from flow
        except TargetUnreachable as exc:
            client.coverage.lost(route, observer, about or observer, f"no answer ({exc.problem})")
            raise
        obs = replace(obs, endpoint=route, about=about if about != observer else "")
        # `unsafe` only stops what is sent automatically: a read the profile names (or one
        # discovery let through, which is never unsafe) is replayed unless it says otherwise
        if self.spec is not None and self.spec.replay is not False:
            obs = replace(obs, read=route)
        yield from client.judge(self.session, obs, route, about)
        return obs

    def pages(self, prep: Prepared, page: PageSpec) -> Flow[list[Observation]]:
        """A list walked page by page; a later page reports under its page route
        ("... (page 2)"), so a list's count is only judged on a first page with nothing after
        it. A list still going at `max_pages` is lost coverage: what lies past the bound was
        not read."""
        seen: list[Observation] = []
        visited: set[str] = set()
        current = prep
        entities = self.client.entities
        coverage = self.client.coverage
        rows = 0
        for number in range(1, page.max_pages + 1):
            obs = yield from self.checked(current, route=page_route(prep.route, number))
            seen.append(obs)
            visited.add(current.path)
            if obs.status != 200:
                if number > 1:  # a later page refused or failed: not the list's end
                    coverage.walked(prep.route, number - 1, rows, False)
                return seen
            items = entities.entities(obs) if entities is not None else None
            rows += len(items) if items is not None else 0
            following = next_page(obs, page, len(items) if items is not None else None, number)
            if following is None or following in visited:
                coverage.walked(prep.route, number, rows, True)
                return seen
            current = replace(prep, path=following)
        observer = self.session.actor.id
        bound = f"page bound reached ({page.max_pages} pages)"
        coverage.lost(prep.route, observer, self.about or observer, bound)
        coverage.walked(prep.route, page.max_pages, rows, False)
        return seen

    def whole(self, route: str, obs: Observation) -> None:
        """An unpaged list or an export, read whole in one answer: its rows for the report's
        depth (an export's batches are rows of one body)."""
        if obs.status != 200:
            return
        if "csv" in obs.content_type:
            lines = obs.body.count(b"\n") + (0 if obs.body.endswith(b"\n") else 1)
            self.client.coverage.walked(route, 1, max(lines - 1, 0), True)
            return
        entities = self.client.entities
        items = entities.entities(obs) if entities is not None else None
        if items is not None:
            self.client.coverage.walked(route, 1, len(items), True)

    def halves(self, prep: Prepared) -> Flow[list[Observation]]:
        """A body in two Range requests, as a player fetches media, so seams are exercised,
        then whole without Range, as a download button fetches it: a server may take another
        path (a cache, another handler) for each shape. The first is the route's statistics
        row (time to the first bytes), the others their own."""
        first = yield from self.checked(prep, {"Range": f"bytes=0-{RANGE_CUT - 1}"})
        if first.status != 206 or first.byte_range is None:
            return [first]  # Range ignored or refused: the answer already was the whole shape
        seen = [first]
        total = first.total_size
        rest: Observation | None = None
        if total is not None and total > RANGE_CUT:
            rest_range = {"Range": f"bytes={RANGE_CUT}-{total - 1}"}
            rest = yield from self.checked(prep, rest_range, name=f"{prep.route} (rest)")
            seen.append(rest)
        whole = yield from self.checked(prep, name=f"{prep.route} (whole)")
        # The halves joined are judged too when they are not the file a download gets: the
        # same bytes were just judged whole, and a chunk cache serving another recording only
        # shows in the file a player assembles.
        if rest is not None:
            seen += [j for j in joined(first, rest) if j.body != whole.body]
        seen.append(whole)
        return seen


def joined(first: Observation, rest: Observation) -> list[Observation]:
    """The two ranged halves as the one file a player assembles from them (empty unless they
    add up to a whole resource). A server may answer ranged requests from another path than
    whole downloads (a chunk cache): what plays is then this file, and only decoding it shows
    whose face and voice it holds, since a chunk on its own is no playable media."""
    if first.status != 206 or rest.status != 206 or not first.byte_range or not rest.byte_range:
        return []
    total = first.total_size
    if (
        total is None
        or rest.total_size != total
        or first.byte_range != (0, len(first.body) - 1)
        or rest.byte_range != (len(first.body), total - 1)
        or len(first.body) + len(rest.body) != total
    ):
        return []  # not two halves of one file: each is still judged as it came
    headers = tuple(
        (name, f"bytes 0-{total - 1}/{total}" if name.lower() == "content-range" else value)
        for name, value in rest.headers
    )
    whole = replace(
        rest,
        body=first.body + rest.body,
        headers=headers,
        byte_range=(0, total - 1),
        elapsed=rest.time - first.sent_at,  # received over both requests
        read="",  # not a request of its own: the access suite repeats the halves' read
    )
    return [whole]
