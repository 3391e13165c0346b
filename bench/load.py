"""APISmith under load: N clients paging through one API in 100-row pages.

    uv run python bench/load.py [--clients 50] [--seconds 30] [--workers 2] [--rows 20000]
                                [--generator httpx|wrk]

A fresh source database gets a ``load_items`` table (bigint key, text, numeric,
timestamptz, rowversion); APISmith runs as its own process (``apismith serve``,
``APISMITH_WORKERS`` from ``--workers``) over a fresh metadata database on the same
PostgreSQL server (``BENCH_DATABASE_URL``, default the local one). Each client signs in
with a reader service token, as SyncFlow does, and walks the API page by page with
``next_cursor``, starting over at the end. Every request goes to 127.0.0.1, and the run
is bounded by ``--seconds``.

The load comes from ``--generator``: ``httpx`` (default) runs the clients as asyncio tasks in
this process; ``wrk`` (the C load generator, ``apt-get install wrk``) walks the API once
here to collect every page's cursor, then replays those page requests from ``--clients``
connections on two threads, so the generator takes a small share of the two cores
instead of a whole one and the figures are the server's.

Printed: requests per second, p50/p90/p99/max latency, errors (any non-200 or transport
error), and every ``--sample`` seconds the APISmith process tree's CPU (percent of one
core) and resident memory, so a leak shows as a rising RSS column.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
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
            -- the API pages in rowversion order (its delta strategy), as an ERP table
            -- read by rowversion would be indexed for
            CREATE INDEX load_items_rowversion ON load_items (rowversion);
            ANALYZE load_items;
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


def process_cpu(process: psutil.Process) -> float:
    """CPU seconds (user + system) of one process; 0 for one that is gone."""
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


def tree_usage(process: psutil.Process) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of ``process`` and its children."""
    cpu, rss = 0.0, 0
    for member in tree(process):
        cpu += process_cpu(member)
        with contextlib.suppress(psutil.Error):
            rss += member.memory_info().rss
    return cpu, rss


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL backends serving this bench's databases (their process
    titles name the database; APISmith's pooled connections live through the run)."""
    return sum(
        process_cpu(member)
        for member in psutil.process_iter(["name", "cmdline"])
        if member.info["name"] == "postgres" and PREFIX in " ".join(member.info["cmdline"] or ())
    )


@dataclass
class CpuMeter:
    """Server CPU over a run: the APISmith process tree's (and each process's share, which
    shows how evenly the workers took the connections), and PostgreSQL's."""

    apismith: psutil.Process
    started: dict[int, float] = field(default_factory=dict)
    postgres_started: float = 0.0

    def start(self) -> None:
        self.started = {member.pid: process_cpu(member) for member in tree(self.apismith)}
        self.postgres_started = postgres_cpu()

    def per_request(self, requests: float) -> str:
        used = {
            member.pid: process_cpu(member) - self.started.get(member.pid, 0.0)
            for member in tree(self.apismith)
        }
        total = sum(used.values())
        postgres = postgres_cpu() - self.postgres_started
        n = max(1.0, requests)
        shares = " / ".join(f"{100 * cpu / max(total, 1e-9):.0f}%" for cpu in used.values())
        return (
            f"server CPU {1000 * total / n:.2f} ms a request (by process: {shares}; "
            f"PostgreSQL {1000 * postgres / n:.2f} ms)"
        )


async def sampler(
    process: psutil.Process, every: float, deadline: float, tally: Tally | None
) -> None:
    """Every ``every`` seconds: requests per second (when counted here), CPU (% of one core)
    and RSS since the last sample."""
    cpu_before, _ = tree_usage(process)
    done_before, clock = 0, time.monotonic()
    began = clock
    while time.monotonic() < deadline:
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        cpu, rss = tree_usage(process)
        done = len(tally.latencies) if tally else 0
        rate = f"{(done - done_before) / (now - clock):7.0f} req/s" if tally else "           "
        busy = 100 * (cpu - cpu_before) / (now - clock)
        print(
            f"{now - began:6.0f}s {rate}  cpu {busy:5.0f}%  rss {rss / 2**20:6.1f} MB",
            flush=True,
        )
        cpu_before, done_before, clock = cpu, done, now


async def page_bodies(client: httpx.AsyncClient, page_size: int) -> list[str]:
    """The request body of every page of the API, first to last (one walk, cursors kept)."""
    bodies: list[str] = []
    cursor: str | None = None
    while True:
        body: dict[str, object] = {"page_size": page_size}
        if cursor:
            body["cursor"] = cursor
        bodies.append(json.dumps(body))
        page = check(await client.post(f"{API}/runtime/{SLUG}/execute", json=body), 200)
        cursor = page["metadata"]["next_cursor"]
        if not cursor:
            return bodies


def wrk_script(bodies: list[str], token: str) -> Path:
    """A wrk Lua script that sends the page requests in turn, each thread from its own page."""
    quoted = ",\n".join(json.dumps(body) for body in bodies)  # JSON strings are Lua strings
    script = BENCH / "load-wrk.lua"
    script.write_text(
        f"""local bodies = {{
{quoted}
}}
local path = "{API}/runtime/{SLUG}/execute"
local headers = {{
  ["Authorization"] = "Bearer {token}",
  ["Content-Type"] = "application/json",
}}
local threads = 0
function setup(thread)
  thread:set("first", threads * 37)
  threads = threads + 1
end
local i = 0
function init(args)
  i = first
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", path, headers, bodies[i])
end
"""
    )
    return script


def wrk_millis(text: str) -> float:
    """wrk's latency figure (``850.00us``, ``1.23ms``, ``2.01s``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"not a wrk latency: {text!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


async def run_wrk(base: str, script: Path, clients: int, seconds: float) -> dict[str, float]:
    """Run wrk against ``base``; its requests, rate, percentiles and errors."""
    process = await asyncio.create_subprocess_exec(
        *[shutil.which("wrk") or "wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s"],
        *["--timeout", "10s", "--latency", "-s", str(script), base],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    (BENCH / "load-wrk.out").write_text(output)
    if process.returncode:
        raise RuntimeError(f"wrk failed:\n{output}")

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"wrk said nothing matching {pattern!r}:\n{output}")
        return match

    figures = {
        "requests": float(found(r"(\d+) requests in").group(1)),
        "rate": float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        "max": wrk_millis(found(r"Latency\s+\S+\s+\S+\s+(\S+)").group(1)),
    }
    for share, text in re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE):
        figures[f"p{share}"] = wrk_millis(text)
    # non-2xx answers, and connect/read/write/timeout socket errors
    errors = re.findall(
        r"Non-2xx or 3xx responses: (\d+)|(?:connect|read|write|timeout) (\d+)", output
    )
    figures["errors"] = float(sum(int(a or b) for a, b in errors))
    return figures


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


async def walk_with_httpx(
    args: argparse.Namespace, client: httpx.AsyncClient, apismith: psutil.Process
) -> None:
    """The load from ``--clients`` asyncio tasks in this process; prints the figures."""
    tally = Tally()
    deadline = time.monotonic() + args.seconds
    pages = max(1, args.rows // args.page_size)
    cpu = CpuMeter(apismith)
    cpu.start()
    started = time.perf_counter()
    await asyncio.gather(
        sampler(apismith, args.sample, deadline, tally),
        *(
            walker(client, args.page_size, deadline, tally, (i * 7) % pages % 5)
            for i in range(args.clients)
        ),
    )
    elapsed = time.perf_counter() - started
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
        f"{cpu.per_request(len(latencies))}"
    )


async def walk_with_wrk(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    apismith: psutil.Process,
    base: str,
    token: str,
) -> None:
    """The load from wrk over every page's request; prints the figures."""
    script = wrk_script(await page_bodies(client, args.page_size), token)
    deadline = time.monotonic() + args.seconds
    cpu = CpuMeter(apismith)
    cpu.start()
    figures, _ = await asyncio.gather(
        run_wrk(base, script, args.clients, args.seconds),
        sampler(apismith, args.sample, deadline, None),
    )
    print(
        f"\n{args.clients} clients (wrk), {args.page_size}-row pages, "
        f"{args.workers} worker(s), {args.seconds:.0f} s: "
        f"{figures['rate']:.0f} req/s, p50 {figures['p50']:.1f} ms, "
        f"p90 {figures['p90']:.1f} ms, p99 {figures['p99']:.1f} ms, "
        f"max {figures['max']:.1f} ms, errors {figures['errors']:.0f}, "
        f"{cpu.per_request(figures['requests'])}"
    )


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
            print(f"APISmith: pid {process.pid}, {base}, log {log}", flush=True)
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
                apismith = psutil.Process(process.pid)
                if args.generator == "wrk":
                    await walk_with_wrk(args, client, apismith, base, token)
                else:
                    await walk_with_httpx(args, client, apismith)
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
    parser.add_argument(
        "--generator",
        choices=["httpx", "wrk"],
        default="httpx",
        help="asyncio clients in this process, or wrk (apt-get install wrk)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
