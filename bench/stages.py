"""SyncFlow's pure stages on one Arrow page of ``orders``-shaped rows: the column lane
against the row-wise stages, for the mapping shapes an ERP entity takes.

    uv run python bench/stages.py [--rows 20000]

No database and no HTTP: one page (TPC-H ``orders``' nine columns, as APISmith's Arrow
body types them) goes through ``EntityPipeline.prepare_table`` (the column lane, rows
left as columns) and through ``EntityPipeline.prepare`` on the page's JSON form (the
row-wise stages, the path of a page the lane cannot take). Best of 3, microseconds a
row, for these entity shapes:

- ``copied``: every field copied as it is;
- ``value map``: plus one field value-mapped from ``o_orderstatus``;
- ``text read``: plus ``o_totalprice`` sent as text and read as a number (an ERP that
  keeps numbers in text columns);
- ``into timestamp``: plus ``o_orderdate`` mapped into a timestamp field (at
  midnight in the source's zone).
"""

import argparse
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from syncflow.domain import (
    ApiColumn,
    DeltaStrategy,
    EntitySpec,
    FieldSpec,
    FieldType,
    NormalizationOptions,
)
from syncflow.pipeline.frames.rows import json_rows
from syncflow.pipeline.prepare import EntityPipeline

COLUMNS = {
    "o_orderkey": ("integer", FieldType.INTEGER),
    "o_custkey": ("integer", FieldType.INTEGER),
    "o_orderstatus": ("string", FieldType.TEXT),
    "o_totalprice": ("number", FieldType.NUMERIC),
    "o_orderdate": ("date", FieldType.DATE),
    "o_orderpriority": ("string", FieldType.TEXT),
    "o_clerk": ("string", FieldType.TEXT),
    "o_shippriority": ("integer", FieldType.INTEGER),
    "o_comment": ("string", FieldType.TEXT),
}
STATUS_NAMES = {"map": {"O": "open", "F": "finished", "P": "partial"}}


def spec_of(api_types: dict[str, str], extra: list[FieldSpec]) -> EntitySpec:
    fields = [FieldSpec(name, name, field_type) for name, (_, field_type) in COLUMNS.items()]
    return EntitySpec(
        name="orders",
        source_name="erp",
        api_slug="orders",
        api_columns=tuple(ApiColumn(name, kind) for name, kind in api_types.items()),
        business_keys=("o_orderkey",),
        rowversion_field=None,
        delta_strategy=DeltaStrategy.HASH,
        target_schema="erp",
        target_table="orders",
        page_size=10_000,
        fields=(*fields, *extra),
        parent_refs=(),
        source_timezone="Europe/Berlin",
        normalization=NormalizationOptions(),
    )


def page(rows: int, *, price_as_text: bool) -> pa.Table:
    prices = [Decimal(f"{n % 500_000}.{n % 100:02d}") for n in range(rows)]
    return pa.table(
        {
            "o_orderkey": pa.array(range(1, rows + 1), pa.int64()),
            "o_custkey": pa.array([n % 150_000 for n in range(rows)], pa.int64()),
            "o_orderstatus": ["OFP"[n % 3] for n in range(rows)],
            "o_totalprice": [str(p) for p in prices]
            if price_as_text
            else pa.array(prices, pa.decimal128(15, 2)),
            "o_orderdate": pa.array([date(1992, 1, 1 + n % 28) for n in range(rows)], pa.date32()),
            "o_orderpriority": [["1-URGENT", "2-HIGH", "3-MEDIUM"][n % 3] for n in range(rows)],
            "o_clerk": [f"Clerk#{n % 1000:09d}" for n in range(rows)],
            "o_shippriority": pa.array([0] * rows, pa.int64()),
            "o_comment": [f"carefully final deposits {n} detect slyly" for n in range(rows)],
        }
    )


def best(run: Callable[[], Any], rows: int) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    rows = parser.parse_args().rows
    api = {name: kind for name, (kind, _) in COLUMNS.items()}
    status = FieldSpec("o_orderstatus", "status_name", FieldType.TEXT, transform=STATUS_NAMES)
    shapes = {
        "copied": (spec_of(api, []), False),
        "value map": (spec_of(api, [status]), False),
        "text read": (spec_of({**api, "o_totalprice": "string"}, [status]), True),
        "into timestamp": (
            spec_of(api, [status, FieldSpec("o_orderdate", "ordered_at", FieldType.TIMESTAMP)]),
            False,
        ),
    }
    print(f"{rows:,} rows of orders, best of 3, microseconds a row")
    print("| shape | column lane | row-wise | lane takes the page |")
    print("| --- | ---: | ---: | --- |")
    for name, (spec, price_as_text) in shapes.items():
        table = page(rows, price_as_text=price_as_text)
        pipeline = EntityPipeline(spec)
        takes = pipeline.lane_takes(table.schema)
        lane = best(lambda p=pipeline, t=table: p.prepare_table(t, {}, as_records=False), rows)
        raws = json_rows(table)
        row_wise = best(lambda p=pipeline, r=raws: p.prepare([dict(raw) for raw in r], {}), rows)
        print(f"| {name} | {lane:.1f} | {row_wise:.1f} | {'yes' if takes else 'no'} |")


if __name__ == "__main__":
    main()
