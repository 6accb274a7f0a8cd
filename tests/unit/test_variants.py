"""Request shapes: the variants of a read are bounded, seeded and deterministic."""

from __future__ import annotations

from harness.client.variants import ACCEPTS, Variant, offered_types, variants

LIST = "/api/me/recordings?per_page=10&q=asthma"


def _requests(found: list[Variant]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return [(v.path, tuple(sorted(v.headers.items()))) for v in found]


def test_the_same_read_and_seed_give_the_same_variants() -> None:
    assert variants(LIST, seed=3) == variants(LIST, seed=3)


def test_another_seed_samples_other_query_variants() -> None:
    samples = {tuple(_requests(variants(LIST, seed=seed))) for seed in range(1, 9)}
    assert len(samples) > 1


def test_variants_are_bounded_distinct_and_never_the_read_itself() -> None:
    for limit in (0, 1, 2, 6, 50):
        found = variants(LIST, seed=1, limit=limit, seen={"q": ["flu", "asthma"]})
        assert len(found) <= limit
        requests = _requests(found)
        assert len(set(requests)) == len(requests)
        assert (LIST, ()) not in requests


def test_the_trailing_slash_and_an_accept_always_come_first() -> None:
    found = variants("/api/things/", seed=0, limit=2)
    assert [(v.kind, v.path) for v in found] == [
        ("slash", "/api/things"),
        ("accept", found[1].path),
    ]
    assert found[1].headers == {"Accept": ACCEPTS[0]}
    assert variants("/api/things?x=1", seed=0)[0].path == "/api/things/?x=1"


def test_the_accepts_a_route_offers_replace_the_common_ones() -> None:
    found = variants("/r", seed=0, offered=["text/csv", "*/*"], limit=50)
    assert [v.headers["Accept"] for v in found if v.kind == "accept"] == ["text/csv"]


def test_numbers_go_to_zero_negative_past_their_bound_and_past_the_last_page() -> None:
    found = variants("/l?page=2", seed=0, offered=["application/json"], limit=50)
    values = {v.path.split("page=")[1] for v in found if v.kind == "query"}
    assert values == {"0", "-1", "201", "9999"}


def test_strings_vary_in_length_and_take_values_other_users_sent() -> None:
    found = variants("/s?q=x", seed=0, offered=["application/json"], seen={"q": ["flu"]}, limit=50)
    labels = [v.label for v in found if v.kind == "query"]
    assert "q of 256 chars" in labels and "q empty" in labels
    assert "/s?q=flu" in [v.path for v in found]


def test_a_routes_offered_types_come_from_its_openapi_success_responses() -> None:
    ok = {"content": {"text/csv": {}, "application/json": {}}}
    document = {
        "paths": {
            "/e/{id}": {"get": {"responses": {"200": ok, "404": {"content": {"x/y": {}}}}}},
            "/w": {"post": {"responses": {"200": ok}}},
        }
    }
    assert offered_types(document) == {"GET /e/{id}": ("text/csv", "application/json")}
