"""Throughput sanity check: normalize, validate, map and hash 50k rows of 10 columns.

Prints rows per second (see it with ``-s``); it asserts only what the stages must
produce, never a time: machines differ.
"""

import time

from syncflow.domain import Record
from syncflow.pipeline.identity import Identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.validate import Validator

ROWS = 50_000


def raw_rows(count):
    """What APISmith sends: exact decimals and timestamps as strings, some text messy."""
    return [
        {
            "item_no": f"IT-{n:07d}",
            "site": "B1" if n % 2 else "B2",
            "description": f"  Bolt M{n % 40} x {n % 90} mm\r\n" if n % 5 == 0 else f"Bolt {n}",
            "qty": n % 1000,
            "unit_price": f"{n % 997}.{n % 100:02d}",
            "weight": 0.25 + n % 7,
            "active": n % 3 != 0,
            "due": "2025-12-31",
            "changed_at": f"2025-12-08T10:{n % 60:02d}:00.123456+01:00",
            "note": None if n % 4 else "check  ",
        }
        for n in range(count)
    ]


def test_50k_rows_through_the_pure_stages(make_spec):
    spec = make_spec(
        {
            "columns": {
                "item_no": "string",
                "site": "string",
                "description": "string",
                "qty": "integer",
                "unit_price": "number",
                "weight": "number",
                "active": "boolean",
                "due": "date",
                "changed_at": "timestamp",
                "note": "string",
            },
            "business_keys": ["item_no", "site"],
            "rowversion": "changed_at",
            "timezone": "Europe/Berlin",
        }
    )
    normalizer, validator, mapper, identity = (
        Normalizer(spec),
        Validator(spec),
        Mapper(spec),
        Identity(spec),
    )
    records = [Record(raw=row) for row in raw_rows(ROWS)]

    started = time.perf_counter()
    normalized = normalizer.normalize(records)
    validated = validator.validate(normalized.records)
    mapped = mapper.map(validated.records)
    hashed = identity.assign(mapped.records)
    seconds = time.perf_counter() - started

    print(
        f"\nnormalize+validate+map+hash: {ROWS} rows x 10 columns in {seconds:.2f} s "
        f"= {ROWS / seconds:,.0f} rows/s"
    )
    assert len(hashed.records) == ROWS
    failures = normalized.failures + validated.failures + mapped.failures + hashed.failures
    assert failures == []
    assert len({r.key_hash for r in hashed.records}) == ROWS
    assert hashed.records[5].target["description"] == "Bolt M5 x 5 mm"
