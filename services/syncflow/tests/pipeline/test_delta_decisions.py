"""Delta: duplicates in a chunk, classification against the target, delete decisions."""

from uuid import UUID

import pytest

from syncflow.domain import (
    Counters,
    DeleteMode,
    DeletePolicy,
    DeltaStrategy,
    Record,
    SyncMode,
)
from syncflow.pipeline.delta import (
    ExistingRow,
    classify,
    decide_deletes,
    dedupe,
    detects_deletes,
)

BATCHES = {
    "this": UUID("01936f3e-0000-7000-8000-000000000001"),
    "earlier": UUID("01936f3e-0000-7000-8000-000000000002"),
    None: None,
}


def records(rows):
    return [
        Record(
            raw={"label": row["label"]},
            rowversion=row.get("rowversion"),
            key_hash=row["key"],
            data_hash=row.get("data", ""),
        )
        for row in rows
    ]


def labels(found):
    return [record.raw["label"] for record in found]


@pytest.mark.cases("delta_cases.json", "dedupe")
def test_dedupe(case):
    winners, duplicates = dedupe(records(case["rows"]))
    assert labels(winners) == case["winners"]
    assert labels(duplicates) == case["duplicates"]


@pytest.mark.cases("delta_cases.json", "classify")
def test_classify(case):
    existing = {
        key: ExistingRow(row["data"], BATCHES[row["batch"]], row["deleted"])
        for key, row in case["existing"].items()
    }
    delta = classify(records(case["rows"]), existing, BATCHES["this"])
    expected = case["expected"]
    assert labels(delta.inserts) == expected["inserts"]
    assert labels(delta.updates) == expected["updates"]
    assert labels(delta.unchanged) == expected["unchanged"]
    assert labels(delta.duplicates) == expected["duplicates"]
    assert labels(delta.replaced) == expected["replaced"]
    assert (
        labels(delta.to_write()) == expected["inserts"] + expected["updates"] + expected["replaced"]
    )
    counters = delta.counters()
    assert {name: getattr(counters, name) for name in case["counters"]} == case["counters"]
    counters.fetched = len(case["rows"])
    assert counters.balanced()


def test_classify_takes_lookup_tuples_as_they_come():
    """``load.lookup_existing`` returns plain ``(data_hash, batch_uid, deleted)`` tuples."""
    (record,) = records([{"key": "A", "data": "d", "label": "a"}])
    delta = classify([record], {"A": ("d", BATCHES["earlier"], False)}, BATCHES["this"])
    assert labels(delta.unchanged) == ["a"]


@pytest.mark.cases("delta_cases.json", "delete_decisions")
def test_decide_deletes(case):
    decision = decide_deletes(
        case["candidates"],
        case["target_rows"],
        DeletePolicy(mode=DeleteMode(case["mode"]), max_ratio=case["max_ratio"]),
        case["read_ok"],
        case["rows_read"],
    )
    assert (decision.apply, decision.warning) == (case["apply"], case["warning"])


@pytest.mark.parametrize(
    ("strategy", "mode", "detects"),
    [
        (DeltaStrategy.HASH, SyncMode.INCREMENTAL, True),
        (DeltaStrategy.HASH, SyncMode.FULL, True),
        (DeltaStrategy.FULL, SyncMode.INCREMENTAL, True),
        (DeltaStrategy.ROWVERSION, SyncMode.INCREMENTAL, False),
        (DeltaStrategy.ROWVERSION, SyncMode.FULL, True),
    ],
)
def test_which_runs_detect_deletes(strategy, mode, detects):
    assert detects_deletes(strategy, mode) is detects


def test_counters_of_an_empty_chunk():
    assert classify([], {}, BATCHES["this"]).counters() == Counters()
