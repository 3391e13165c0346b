"""Resolve: parent uids from the lookup, parked children, retry schedule."""

from datetime import timedelta
from uuid import UUID

import pytest

from syncflow.domain import Record, Stage, next_retry_delay
from syncflow.pipeline.identity import Identity, key_hash
from syncflow.pipeline.resolve import give_up, parent_lookups, resolve


@pytest.fixture
def setup(case_file, make_spec):
    data = case_file("resolve_cases.json")
    spec = make_spec(data["spec"])
    found = {
        (parent["parent_entity"], key_hash(parent["key"])): UUID(parent["uid"])
        for parent in data["parents"]
    }
    return spec, found


def identified(spec, values):
    record = Record(raw={"values": values}, values=dict(values))
    (record,) = Identity(spec).assign([record]).records
    return record


@pytest.mark.cases("resolve_cases.json", "children")
def test_resolve_child(case, setup):
    spec, found = setup
    record = identified(spec, case["values"])
    resolution = resolve(spec, [record], found)
    if "ready" in case:
        assert resolution.ready == [record]
        assert record.parent_uids == {k: UUID(v) for k, v in case["ready"].items()}
        assert resolution.parked == resolution.failures == []
    elif "parked" in case:
        (parked,) = resolution.parked
        assert parked.record is record
        assert parked.parent_entity == case["parked"]["parent_entity"]
        assert parked.parent_key == case["parked"]["parent_key"]
        assert parked.parent_key_hash == key_hash(case["parked"]["parent_key"])
        assert resolution.ready == resolution.failures == []
    else:
        (failure,) = resolution.failures
        assert (failure.stage, failure.error) == (Stage.RESOLVE, case["error"])
        assert failure.key_hash == record.key_hash
        assert resolution.ready == resolution.parked == []


def test_a_chunk_splits_in_input_order(setup):
    spec, found = setup
    rows = [
        {"order_no": "SO-1", "line_no": 1, "site": "B1", "order_ref": "SO-1", "item_no": None},
        {"order_no": "SO-2", "line_no": 1, "site": "B1", "order_ref": "SO-2", "item_no": None},
        {"order_no": "SO-1", "line_no": 2, "site": "B1", "order_ref": "SO-1", "item_no": "ITEM-1"},
    ]
    records = [identified(spec, row) for row in rows]
    resolution = resolve(spec, records, found)
    assert resolution.ready == [records[0], records[2]]
    assert [p.record for p in resolution.parked] == [records[1]]


def test_parent_lookups_collects_what_to_look_up(setup):
    spec, _ = setup
    records = [
        identified(
            spec,
            {"order_no": "SO-1", "line_no": 1, "site": "B1", "order_ref": "SO-1", "item_no": "I-1"},
        ),
        identified(
            spec,
            {"order_no": "SO-1", "line_no": 2, "site": "B1", "order_ref": "SO-1", "item_no": None},
        ),
    ]
    assert parent_lookups(spec, records) == {
        "orders": {key_hash(["B1", "SO-1"])},
        "items": {key_hash(["I-1"])},
    }


def test_a_uid_already_set_is_kept(setup):
    """A parked child whose parent just arrived comes back with its uid set."""
    spec, _ = setup
    uid = UUID("01936f3e-0000-7000-8000-0000000000ff")
    record = Record(raw={}, key_hash="k", parent_uids={"orders": uid})
    resolution = resolve(spec, [record], {})
    assert resolution.ready == [record]
    assert record.parent_uids == {"orders": uid}
    assert parent_lookups(spec, [record]) == {"orders": set(), "items": set()}


def test_an_entity_without_parents_is_always_ready(make_spec):
    spec = make_spec({"columns": {"id": "integer"}})
    records = [Record(raw={}, key_hash="a"), Record(raw={}, key_hash="b")]
    assert resolve(spec, records, {}).ready == records


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (0, timedelta(seconds=30)),
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (6, timedelta(minutes=32)),
        (7, timedelta(hours=1)),
        (1000, timedelta(hours=1)),
        (-1, timedelta(seconds=30)),
    ],
)
def test_retry_delay_doubles_up_to_an_hour(attempts, delay):
    assert next_retry_delay(attempts) == delay


def test_retry_delay_with_own_base_and_cap():
    assert next_retry_delay(3, base=timedelta(seconds=1), cap=timedelta(seconds=5)) == timedelta(
        seconds=5
    )
    assert next_retry_delay(2, base=timedelta(seconds=1)) == timedelta(seconds=4)


@pytest.mark.parametrize(
    ("attempts", "max_retries", "gives_up"),
    [(0, 3, False), (2, 3, False), (3, 3, True), (4, 3, True)],
)
def test_give_up_after_max_retries(attempts, max_retries, gives_up):
    assert give_up(attempts, max_retries) is gives_up
