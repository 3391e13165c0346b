"""APISmith under load: N clients paging through one API in 100-row pages.

    uv run python bench/load.py [--clients 50] [--seconds 30] [--workers 2] [--rows 20000]

A fresh source database gets a ``load_items`` table (bigint key, text, numeric,
timestamptz, rowversion); APISmith runs as its own process (``apismith serve``,
``APISMITH_WORKERS`` from ``--workers``) over a fresh metadata database on the same
PostgreSQL server (``BENCH_DATABASE_URL``, default the local one). Each client signs in
with a reader service token, as SyncFlow does, and walks the API page by page with
``next_cursor``, starting over at the end. Every request goes to 127.0.0.1, and the run
is bounded by ``--seconds``.

Printed: requests per second, p50/p90/p99/max latency, errors (any non-200 or transport
error), and every ``--sample`` seconds the APISmith process tree's CPU (percent of one
core) and resident memory, so a leak shows as a rising RSS column.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # bench/run.py, the script beside this one
    ADMIN_PASSWORD,
    ADMIN_USER,
    API,
    BENCH,
    check,
    drop_databases,
    free_port,
    fresh_databases,
    service,
    sign_in_for_reader_token,
    wait_healthy,
)

PREFIX = "bench_load"
SLUG = "load-items"


@dataclass
class Tally:
    """Latencies (seconds) of successful requests, and errors by kind."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def seed_source(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            CREATE TABLE load_items (
                item_id bigint PRIMARY KEY,
                name text NOT NULL,
                price numeric(12, 2) NOT NULL,
                changed_at timestamptz NOT NULL,
                rowversion bigint NOT NULL
            );
            INSERT INTO load_items
            SELECT i, 'item ' || i, (i % 1000) + 0.25, now() - i * interval '1 minute', i
            FROM generate_series(1, $1::bigint) AS i;
            """.replace("$1::bigint", str(rows))
        )
    finally:
        await conn.close()


async def register(client: httpx.AsyncClient, source_url: str) -> str:
    """Admin login, the connection, the API; returns a reader service token."""
    token = await sign_in_for_reader_token(client, "load")
    connection = check(
        await client.post(
            f"{API}/connections",
            json={
                "name": "load",
                "dialect": "postgresql",
                "url": source_url,
                "options": {"pool_size": 5},
            },
        ),
        201,
    )
    check(
        await client.post(
            f"{API}/apis",
            json={
                "slug": SLUG,
                "name": "load items",
                "connection_uid": connection["uid"],
                "sql": "SELECT item_id, name, price, changed_at, rowversion FROM load_items",
                "business_keys": ["item_id"],
                "rowversion_column": "rowversion",
                "delta_strategy": "rowversion",
            },
        ),
        201,
    )
    return token


async def walker(
    client: httpx.AsyncClient, page_size: int, deadline: float, tally: Tally, start_page: int
) -> None:
    """One client: page through the API until the deadline, starting over at the end."""
    cursor: str | None = None
    skip = start_page  # spread clients over the table instead of all reading page one
    while time.monotonic() < deadline:
        body: dict[str, object] = {"page_size": page_size}
        if cursor:
            body["cursor"] = cursor
        started = time.perf_counter()
        try:
            response = await client.post(f"{API}/runtime/{SLUG}/execute", json=body)
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            cursor = None
            continue
        if response.status_code != 200:
            tally.error(str(response.status_code))
            cursor = None
            continue
        cursor = response.json()["metadata"]["next_cursor"]
        if skip:
            skip -= 1
        else:
            tally.latencies.append(time.perf_counter() - started)


def tree(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return [process]


def tree_usage(process: psutil.Process) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of ``process`` and its children."""
    cpu, rss = 0.0, 0
    for member in tree(process):
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            cpu += times.user + times.system
            rss += member.memory_info().rss
    return cpu, rss


async def sampler(process: psutil.Process, every: float, deadline: float, tally: Tally) -> None:
    """Every ``every`` seconds: requests per second, CPU (% of one core) and RSS since the last."""
    cpu_before, _ = tree_usage(process)
    done_before, clock = 0, time.monotonic()
    began = clock
    while time.monotonic() < deadline:
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        cpu, rss = tree_usage(process)
        done = len(tally.latencies)
        rate = (done - done_before) / (now - clock)
        busy = 100 * (cpu - cpu_before) / (now - clock)
        print(
            f"{now - began:6.0f}s {rate:7.0f} req/s  cpu {busy:5.0f}%  rss {rss / 2**20:6.1f} MB",
            flush=True,
        )
        cpu_before, done_before, clock = cpu, done, now


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


async def run(args: argparse.Namespace) -> None:
    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    urls = await fresh_databases(server, PREFIX)
    try:
        await seed_source(urls["source"], args.rows)
        port = free_port()
        env = {
            "APISMITH_DATABASE_URL": urls["apismith"],
            "APISMITH_ADMIN_USERNAME": ADMIN_USER,
            "APISMITH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "APISMITH_WORKERS": str(args.workers),
            "APISMITH_LOG_LEVEL": "WARNING",
        }
        log = BENCH / "load-apismith.log"
        base = f"http://127.0.0.1:{port}"
        with service("apismith", port, env, log) as process:
            async with httpx.AsyncClient(base_url=base, timeout=30) as admin:
                await wait_healthy(admin, process)
                token = await register(admin, urls["source"])
            limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=None)
            async with httpx.AsyncClient(
                base_url=base,
                timeout=10,
                limits=limits,
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                warm = Tally()
                await asyncio.gather(
                    *(
                        walker(client, args.page_size, time.monotonic() + 3, warm, 0)
                        for _ in range(4)
                    )
                )
                tally = Tally()
                deadline = time.monotonic() + args.seconds
                pages = max(1, args.rows // args.page_size)
                apismith = psutil.Process(process.pid)
                cpu_started, _ = tree_usage(apismith)
                started = time.perf_counter()
                await asyncio.gather(
                    sampler(apismith, args.sample, deadline, tally),
                    *(
                        walker(client, args.page_size, deadline, tally, (i * 7) % pages % 5)
                        for i in range(args.clients)
                    ),
                )
                elapsed = time.perf_counter() - started
                cpu_used = tree_usage(apismith)[0] - cpu_started
        latencies = sorted(tally.latencies)
        print(
            f"\n{args.clients} clients, {args.page_size}-row pages, {args.workers} worker(s), "
            f"{args.seconds:.0f} s: {len(latencies) / elapsed:.0f} req/s, "
            f"p50 {1000 * percentile(latencies, 0.5):.1f} ms, "
            f"p90 {1000 * percentile(latencies, 0.9):.1f} ms, "
            f"p99 {1000 * percentile(latencies, 0.99):.1f} ms, "
            f"max {1000 * (latencies[-1] if latencies else 0):.1f} ms, "
            f"mean {1000 * statistics.fmean(latencies) if latencies else 0:.1f} ms, "
            f"errors {sum(tally.errors.values())} {tally.errors or ''}, "
            f"server CPU {1000 * cpu_used / max(1, len(latencies)):.2f} ms a request"
        )
        print(f"load average: {os.getloadavg()}")
    finally:
        await drop_databases(server, PREFIX)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
