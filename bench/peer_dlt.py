"""The peer: dlt's full load of one table, PostgreSQL to PostgreSQL, in its fastest tuning.

Run by ``bench/run.py --peers`` as its own process (so its memory is its own), this loads
``--table`` from the source database into a fresh dataset of the target database with
dlt's ``sql_table`` source on the pyarrow backend (rows arrive as Arrow tables, never as
Python dicts), large chunks, the intermediate files uncompressed, and the ``csv`` loader
format (dlt's postgres destination loads csv with ``COPY``). It prints one JSON line:
``{"seconds", "rows", "peak_rss_mb"}``, the seconds covering ``pipeline.run`` only
(extract, normalize and load), not the import of dlt.
"""

import argparse
import json
import os
import resource
import tempfile
import time

os.environ.setdefault("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt
from dlt.sources.sql_database import sql_table
from sqlalchemy.engine import make_url


def with_password(url: str) -> str:
    """dlt's postgres destination insists on a password; a trust-auth server ignores it."""
    parsed = make_url(url)
    return parsed.set(password=parsed.password or "unused").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="source database URL (postgresql://)")
    parser.add_argument("--target", required=True, help="target database URL (postgresql://)")
    parser.add_argument("--table", required=True)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as workdir:
        table = sql_table(
            credentials=args.source.replace("postgresql://", "postgresql+psycopg2://", 1),
            table=args.table,
            backend="pyarrow",
            chunk_size=args.chunk_size,
            reflection_level="full_with_precision",
        )
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{args.table}",
            pipelines_dir=workdir,
            destination=dlt.destinations.postgres(credentials=with_password(args.target)),
            dataset_name=f"dlt_{args.table}",
        )
        start = time.perf_counter()
        pipeline.run(table, loader_file_format="csv", write_disposition="append")
        seconds = time.perf_counter() - start
        rows = pipeline.last_trace.last_normalize_info.row_counts.get(args.table, 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": round(peak)}))


if __name__ == "__main__":
    main()
