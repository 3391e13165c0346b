"""What verify stages of a page: a row of the column lane and a row decided row by row
name their business keys alike, as the source sent them (verify's samples)."""

from datetime import UTC, datetime

import pyarrow as pa

from syncflow.pipeline.prepare import EntityPipeline
from syncflow.verify.staged import staged_rows

SPEC = {
    "columns": {"no": "string", "at": "timestamp", "active": "boolean", "note": "string"},
    "business_keys": ["no", "at", "active"],
}


def test_lane_and_row_wise_rows_name_their_business_keys_alike(make_spec):
    spec = make_spec(SPEC)
    table = pa.table(
        {
            "no": [" IT-1 ", " IT-2 ", None],
            "at": pa.array(
                [
                    datetime(2025, 6, 1, 8, tzinfo=UTC),
                    datetime(2025, 6, 1, 8, 0, 0, 5, tzinfo=UTC),
                    datetime(2025, 6, 2, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "active": [True, False, True],
            # non-ASCII text leaves the lane: the second row is decided row by row
            "note": ["plain", "Größe", "x"],
        }
    )
    prepared = EntityPipeline(spec).prepare_table(table, {}, as_records=False)
    assert prepared.lane is not None
    assert prepared.lane.slow == [1, 2]

    rows = staged_rows(prepared, spec.business_keys).to_pylist()

    # the lane's row first, then the row-wise one, then the one failing validation (a
    # NULL key), staged without a data hash
    assert [row["business_key"] for row in rows] == [
        " IT-1 |2025-06-01T08:00:00+00:00|True",
        " IT-2 |2025-06-01T08:00:00.000005+00:00|False",
        "|2025-06-02T00:00:00+00:00|True",
    ]
    assert [len(row["key_hash"]) for row in rows] == [16, 16, 16]
    assert [row["data_hash"] and len(row["data_hash"]) for row in rows] == [32, 32, None]
