"""How a window of outbox events is split for sending straight: a key's events share a
batch, batches never share a key, keys held in the ledger wait there."""

from syncflow.delivery.straight import split


def event(id_: int, key: str) -> dict:
    return {"id": id_, "key_hash": key}


def test_a_keys_events_share_one_batch_and_batches_share_no_key():
    window = [event(1, "a"), event(2, "b"), event(3, "a"), event(4, "c"), event(5, "b")]
    split_up = split(window, open_keys=set(), keys_per_batch=2)
    assert [[e["id"] for e in batch] for batch in split_up.batches] == [[1, 2, 3, 5], [4]]
    assert split_up.held_back == []
    assert split_up.end == 5


def test_keys_with_events_in_the_ledger_are_held_back_in_order():
    window = [event(1, "a"), event(2, "x"), event(3, "a"), event(4, "x")]
    split_up = split(window, open_keys={"x"}, keys_per_batch=10)
    assert [e["id"] for e in split_up.held_back] == [2, 4]
    assert [[e["id"] for e in batch] for batch in split_up.batches] == [[1, 3]]
    assert split_up.end == 4
