"""Sessions per token are capped: a token that signs in again and again pushes out its own oldest
sessions, never another token's."""

from __future__ import annotations

from pipeline.api_tokens import Principal
from workers.http.sessions import MAX_SESSIONS, MAX_SESSIONS_PER_TOKEN, SessionStore

READER = Principal("reader", frozenset({"read"}))
DESK = Principal("desk", frozenset({"read", "admin"}))


def test_a_token_keeps_its_newest_sessions_only() -> None:
    store = SessionStore(ttl_s=3600, per_token=3)
    made = [store.create(READER, "fst_reader").id for _ in range(5)]
    assert [store.get(i) is not None for i in made] == [False, False, True, True, True]
    store.drop(made[-1])
    newer = store.create(READER, "fst_reader").id
    assert all(store.get(i) is not None for i in (*made[2:4], newer)) and len(store) == 3


def test_signing_in_thousands_of_times_never_evicts_another_tokens_session() -> None:
    store = SessionStore(ttl_s=3600)
    desk = store.create(DESK, "fst_desk")
    for _ in range(MAX_SESSIONS + 10):
        store.create(READER, "fst_reader")
    assert store.get(desk.id) == desk
    assert len(store) == MAX_SESSIONS_PER_TOKEN + 1


def test_two_tokens_of_one_name_are_capped_apart() -> None:
    store = SessionStore(ttl_s=3600, per_token=1)
    first = store.create(READER, "fst_old-reader-token")
    store.create(READER, "fst_new-reader-token")
    assert store.get(first.id) == first
