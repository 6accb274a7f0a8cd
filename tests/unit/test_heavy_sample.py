"""A heavy owner's items are sampled at both ends of its list: what a run's flows made lands
at one end in date order, and a head-only sample left a segment filed under a heavy owner
(the 2020 incident, on page 11) unread by the media oracle."""

from __future__ import annotations

from harness.adapters.looks import sample_heavy


def _items(owner: str, n: int) -> list[tuple[str, str | None, dict[str, str]]]:
    return [(f"{owner}:{i}", owner, {}) for i in range(n)]


def test_a_heavy_owners_middle_is_left_out_and_both_ends_are_read() -> None:
    items = _items("heavy", 20) + _items("light", 20)
    kept, skipped = sample_heavy(items, {"heavy"}, 5)
    heavy_kept = [key for key, owner, _ in kept if owner == "heavy"]
    assert heavy_kept == [f"heavy:{i}" for i in (0, 1, 2, 3, 4, 15, 16, 17, 18, 19)]
    assert skipped == [f"heavy:{i}" for i in range(5, 15)]
    assert [key for key, owner, _ in kept if owner == "light"] == [f"light:{i}" for i in range(20)]


def test_the_newest_item_of_a_heavy_owner_is_read_at_either_end() -> None:
    newest_last = _items("heavy", 111)
    kept, _ = sample_heavy(newest_last, {"heavy"}, 5)
    assert newest_last[-1] in kept
    newest_first = list(reversed(newest_last))
    kept, _ = sample_heavy(newest_first, {"heavy"}, 5)
    assert newest_first[0] in kept


def test_a_short_heavy_list_is_read_whole() -> None:
    items = _items("heavy", 8)
    kept, skipped = sample_heavy(items, {"heavy"}, 5)
    assert kept == items and skipped == []


def test_each_zero_reads_no_item_of_a_heavy_owner() -> None:
    kept, skipped = sample_heavy(_items("heavy", 3), {"heavy"}, 0)
    assert kept == [] and len(skipped) == 3


def test_an_item_the_run_made_is_read_wherever_the_app_put_it() -> None:
    """An item first seen after the user's first look is kept wherever it sits (more new
    items at once than an end holds put the first of them in the middle), and the ends are
    still counted over the bulk."""
    items = _items("heavy", 20)
    made = ("heavy:new", "heavy", {})
    listed = [*items[:10], made, *items[10:]]
    kept, skipped = sample_heavy(listed, {"heavy"}, 5, fresh={"heavy:new"})
    assert made in kept
    assert [key for key, _, _ in kept if key != "heavy:new"] == [
        f"heavy:{i}" for i in (0, 1, 2, 3, 4, 15, 16, 17, 18, 19)
    ]
    assert skipped == [f"heavy:{i}" for i in range(5, 15)]
    # without knowing it is new, the middle of the list is left out with the rest
    kept, skipped = sample_heavy(listed, {"heavy"}, 5)
    assert made not in kept and "heavy:new" in skipped


def test_a_heavy_owners_archive_another_user_had_listed_is_bulk_for_a_newcomer() -> None:
    """A user's bulk is what any user's lists had shown by the end of their first look: a
    clinician handed a heavy patient mid-run samples that patient's seeded archive (reading
    all 124 recordings was a fifth of the switch suite's reads), and what was first listed
    after their first look (the run made it) is still read wherever it sits."""
    from types import SimpleNamespace

    from harness.adapters.looks import Looks
    from harness.client.listing import Entity
    from harness.models import Actor, Observation

    def listing(*ids: str) -> Observation:
        return Observation(
            "", "look", "GET", "/list", "GET /list", 200, (), ",".join(ids).encode(), 0.0
        )

    class Parser:
        def entities(self, obs: Observation) -> list[Entity]:
            return [Entity("recording", i, "heavy", {}) for i in obs.body.decode().split(",")]

    client = SimpleNamespace(profile=None, world=None, entities=Parser())
    looks = Looks(SimpleNamespace(client=client), document=None)  # type: ignore[arg-type]
    old, new = Actor("c0", "clinician"), Actor("c1", "clinician")
    looks._learn(old, [listing("1", "2", "3")])  # the heavy patient's clinician lists them
    looks._first_look_done(old)
    looks._first_look_done(new)  # not yet the heavy patient's clinician: nothing listed
    looks._learn(old, [listing("4")])  # the run makes a recording
    looks._learn(new, [listing("1", "2", "3", "4", "5")])  # handed over, and one more made
    mark = looks.memory(new).bulk_mark
    assert mark is not None
    assert [k for k in ("1", "2", "3", "4", "5") if looks._new(f"recording:{k}", mark)] == [
        "4",
        "5",
    ]
    # the clinician who listed the archive first keeps it as bulk; what came later is new
    old_mark = looks.memory(old).bulk_mark
    assert old_mark is not None and looks._new("recording:4", old_mark)
    assert not looks._new("recording:1", old_mark)
