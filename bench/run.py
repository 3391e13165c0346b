"""End-to-end benchmark: TPC-H ``orders`` / ``lineitem`` through APISmith and SyncFlow,
measured against raw PostgreSQL binary ``COPY`` of the same table.

    uv run --group bench python bench/run.py --scale 1 [--tables orders,lineitem] [--quick]
        [--peers]

Data comes from ``tpchgen-cli`` (CSV, cached under ``bench/data/sf<scale>/``). Source,
target and both services' own databases are fresh databases on one PostgreSQL server
(``BENCH_DATABASE_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``).
APISmith and SyncFlow run as separate processes, so each one's resident memory is
sampled (every 100 ms, process tree) while each phase runs. Phases per table:

- raw COPY: ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` piped into ``COPY ... FROM
  STDIN (FORMAT binary)`` of an identical table (with its primary key): the yardstick;
- the same rows COPYed into a table of a SyncFlow target's shape (bridge columns, uuid
  primary key, unique key hash), all in the server: the floor under any sync into it;
  and again with the key index built after the COPY, as a first load does;
- with ``--peers``: dlt's full load of the same table (``bench/peer_dlt.py``, its own
  process: ``sql_table`` on the pyarrow backend, csv loader, no compression);
- full initial sync (rowversion strategy), and the same for a hash-strategy entity;
- re-sync with nothing changed, both strategies;
- 1% updates (new comment, new rowversion) and 0.1% deletes in the source, then an
  incremental sync with each strategy.

Every sync is timed from ``POST /sync/start`` to ``completed`` (polled every 10 ms at
first, every 100 ms once it has run 2 s).
The table goes to stdout and ``bench/RESULTS.md`` (the run's part of it, between markers).
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"
RESULTS = BENCH / "RESULTS.md"
BEGIN_MARK = "<!-- bench:begin -->"
END_MARK = "<!-- bench:end -->"

ADMIN_USER = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password"
OPERATOR_TOKEN = "bench-operator-token"
API = "/api/v1"
DATABASES = ("source", "target", "apismith", "syncflow", "schedulehub")
STANDIN_PASSWORD = "bench-standin-password"


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    comment: str

    def create_sql(self, name: str | None = None) -> str:
        columns = ", ".join(f"{column} {kind} NOT NULL" for column, kind in self.columns)
        return (
            f"CREATE TABLE {name or self.name} ({columns}, "
            f"rowversion bigint NOT NULL DEFAULT nextval('rv'), "
            f"PRIMARY KEY ({', '.join(self.keys)}))"
        )

    def column_names(self) -> list[str]:
        return [column for column, _ in self.columns]


TABLES = {
    "orders": TableSpec(
        name="orders",
        columns=(
            ("o_orderkey", "bigint"),
            ("o_custkey", "bigint"),
            ("o_orderstatus", "varchar(1)"),
            ("o_totalprice", "numeric(15,2)"),
            ("o_orderdate", "date"),
            ("o_orderpriority", "varchar(15)"),
            ("o_clerk", "varchar(15)"),
            ("o_shippriority", "integer"),
            ("o_comment", "varchar(79)"),
        ),
        keys=("o_orderkey",),
        comment="o_comment",
    ),
    "lineitem": TableSpec(
        name="lineitem",
        columns=(
            ("l_orderkey", "bigint"),
            ("l_partkey", "bigint"),
            ("l_suppkey", "bigint"),
            ("l_linenumber", "integer"),
            ("l_quantity", "numeric(15,2)"),
            ("l_extendedprice", "numeric(15,2)"),
            ("l_discount", "numeric(15,2)"),
            ("l_tax", "numeric(15,2)"),
            ("l_returnflag", "varchar(1)"),
            ("l_linestatus", "varchar(1)"),
            ("l_shipdate", "date"),
            ("l_commitdate", "date"),
            ("l_receiptdate", "date"),
            ("l_shipinstruct", "varchar(25)"),
            ("l_shipmode", "varchar(10)"),
            ("l_comment", "varchar(60)"),
        ),
        keys=("l_orderkey", "l_linenumber"),
        comment="l_comment",
    ),
}


# -- results -------------------------------------------------------------------------


@dataclass
class Phase:
    table: str
    name: str
    rows: int
    seconds: float
    rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    # the machine's busy share of every core (0..1), where sampled
    busy: float | None = None
    counters: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # the PostgreSQL server's CPU seconds per database
    server_cpu: dict[str, float] = field(default_factory=dict)
    copy_seconds: float | None = None
    full_seconds: float | None = None

    def rate(self) -> str:
        return f"{self.rows / self.seconds:,.0f}" if self.seconds > 0 else "-"

    def ratio(self) -> str:
        if self.copy_seconds is None or self.copy_seconds <= 0:
            return "-"
        return f"{self.seconds / self.copy_seconds:.2f}x"

    def of_full(self) -> str:
        if self.full_seconds is None or self.full_seconds <= 0:
            return ""
        return f"{100 * self.seconds / self.full_seconds:.1f}%"


# -- memory sampling -----------------------------------------------------------------


class UsageSampler:
    """Samples the resident memory of each service's process tree every 100 ms in a thread;
    ``peaks()`` gives each one's peak since the last ``reset()``, in MB. ``cpu_seconds()``
    gives each one's CPU since then, and that of the PostgreSQL server (``postgres``,
    when it runs on this machine: ``server_pid``) and the share of the machine's CPU
    that was busy (``machine_busy()``, of every core), where the CPU of a phase went;
    ``usage()`` all of them, as a :class:`Phase` takes them.
    ``server_cpu_by_database()`` splits the server's CPU by database (its backends, each
    sampled every 100 ms: one that exits between two samples loses that last bit)."""

    def __init__(self, pids: dict[str, int], *, server_pid: int | None = None) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._peaks: dict[str, int] = dict.fromkeys(pids, 0)
        self._cpu: dict[str, float] = {}
        self._server = psutil.Process(server_pid) if server_pid is not None else None
        self._machine = psutil.cpu_times()
        # the server's backends: pid -> (database, CPU seconds) at reset and at the latest sample
        self._backends_then: dict[int, float] = {}
        self._backends_now: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "UsageSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree_rss(self, process: psutil.Process) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            for member in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, process in self.processes.items():
                rss = self._tree_rss(process)
                with self._lock:
                    self._peaks[name] = max(self._peaks[name], rss)
            backends = self._backends()
            with self._lock:
                self._backends_now.update(backends)

    def _backends(self) -> dict[int, tuple[str, float]]:
        """The server's processes: pid -> (database, CPU seconds); a process serving no
        database (checkpointer, WAL writer, autovacuum launcher) under ``(server)``. A
        backend's title is ``postgres: [<cluster>:] <user> <database> <client> <state>``."""
        found: dict[int, tuple[str, float]] = {}
        if self._server is None:
            return found
        with contextlib.suppress(psutil.Error):
            for child in self._server.children():
                with contextlib.suppress(psutil.Error):
                    title = " ".join(child.cmdline()).split()
                    client = [i for i, word in enumerate(title) if "(" in word or word == "[local]"]
                    database = title[client[0] - 1] if client and client[0] >= 2 else "(server)"
                    times = child.cpu_times()
                    found[child.pid] = (database, times.user + times.system)
        return found

    def server_cpu_by_database(self) -> dict[str, float]:
        """The server's CPU seconds per database since the last ``reset()``."""
        with self._lock:
            latest = dict(self._backends_now)
            base = dict(self._backends_then)
        latest.update(self._backends())
        used: dict[str, float] = {}
        for pid, (database, seconds) in latest.items():
            used[database] = used.get(database, 0.0) + seconds - base.get(pid, 0.0)
        return dict(sorted(used.items(), key=lambda item: -item[1]))

    def _tree_cpu(self, process: psutil.Process) -> float:
        """User and system CPU of the process, its live descendants and the children it
        has reaped (a PostgreSQL backend's, once its connection closed)."""
        total = 0.0
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.children_user + times.children_system
            for member in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = member.cpu_times()
                    total += times.user + times.system
        return total

    def reset(self) -> None:
        backends = {pid: seconds for pid, (_, seconds) in self._backends().items()}
        with self._lock:
            for name, process in self.processes.items():
                self._peaks[name] = self._tree_rss(process)
                self._cpu[name] = self._tree_cpu(process)
            if self._server is not None:
                self._cpu["postgres"] = self._tree_cpu(self._server)
            self._machine = psutil.cpu_times()
            self._backends_then, self._backends_now = backends, {}

    def peaks(self) -> dict[str, float]:
        with self._lock:
            return {name: peak / 2**20 for name, peak in self._peaks.items()}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each service and the PostgreSQL server used since
        the last ``reset()``."""
        used = {
            name: self._tree_cpu(process) - self._cpu.get(name, 0.0)
            for name, process in self.processes.items()
        }
        if self._server is not None:
            used["postgres"] = self._tree_cpu(self._server) - self._cpu.get("postgres", 0.0)
        return used

    def machine_busy(self) -> float:
        """The share of every core that was busy (not idle, not waiting for I/O) since
        the last ``reset()``."""
        now, then = psutil.cpu_times(), self._machine
        total = sum(now) - sum(then)
        idle = (now.idle + getattr(now, "iowait", 0.0)) - (then.idle + getattr(then, "iowait", 0.0))
        return 1 - idle / total if total > 0 else 0.0

    def usage(self) -> dict[str, Any]:
        """Everything measured since the last ``reset()``, as :class:`Phase`'s fields."""
        return {
            "rss_mb": self.peaks(),
            "cpu_s": self.cpu_seconds(),
            "server_cpu": self.server_cpu_by_database(),
            "busy": self.machine_busy(),
        }


# -- databases -----------------------------------------------------------------------


async def local_server_pid(url: str) -> int | None:
    """The PostgreSQL server's own process (the postmaster), when it runs on this machine
    (a loopback address); ``None`` otherwise."""
    host = url.split("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        return None
    conn = await asyncpg.connect(url)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        with contextlib.suppress(psutil.Error):  # asked while the backend lives
            return int(psutil.Process(backend).ppid())
        return None
    finally:
        await conn.close()


def database_url(server: str, name: str) -> str:
    base, _, _ = server.rpartition("/")
    return f"{base}/{name}"


async def connect(server: str, name: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url(server, name))


async def fresh_databases(server: str, prefix: str) -> dict[str, str]:
    """Drop and create the run's databases; return role -> URL."""
    admin = await asyncpg.connect(server)
    try:
        urls = {}
        for role in DATABASES:
            name = f"{prefix}_{role}"
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            urls[role] = database_url(server, name)
        return urls
    finally:
        await admin.close()


async def drop_databases(server: str, prefix: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        for role in DATABASES:
            await admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{role}" WITH (FORCE)')
    finally:
        await admin.close()


def generate(scale: float, tables: list[str]) -> Path:
    """The TPC-H CSV files for ``scale`` (generated once, then reused)."""
    folder = DATA / f"sf{scale:g}"
    missing = [t for t in tables if not (folder / f"{t}.csv").exists()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        tool = shutil.which("tpchgen-cli", path=str(Path(sys.executable).parent)) or "tpchgen-cli"
        print(f"generating TPC-H sf={scale:g} {','.join(missing)} into {folder}", flush=True)
        subprocess.run(
            [tool, "csv", "-s", f"{scale:g}", "--tables", ",".join(missing), "-o", str(folder)],
            check=True,
        )
    return folder


async def load_source(url: str, spec: TableSpec, csv_path: Path) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE SEQUENCE IF NOT EXISTS rv")
        await conn.execute(spec.create_sql())
        await conn.copy_to_table(
            spec.name,
            source=str(csv_path),
            columns=spec.column_names(),
            format="csv",
            header=True,
        )
        await conn.execute(f"CREATE INDEX ON {spec.name} (rowversion)")
        await conn.execute(f"VACUUM ANALYZE {spec.name}")
        rows: int = await conn.fetchval(f"SELECT count(*) FROM {spec.name}")
        return rows
    finally:
        await conn.close()


async def raw_copy(source_url: str, target_url: str, spec: TableSpec) -> float:
    """Seconds for a binary COPY of the table from source to an identical target table."""
    source = await asyncpg.connect(source_url)
    target = await asyncpg.connect(target_url)
    try:
        await target.execute("CREATE SCHEMA IF NOT EXISTS raw; SET search_path = raw")
        await target.execute("CREATE SEQUENCE IF NOT EXISTS rv")
        await target.execute(spec.create_sql())
        columns = [*spec.column_names(), "rowversion"]
        return await _pipe_copy(
            source,
            target,
            f"SELECT {', '.join(columns)} FROM {spec.name}",
            spec.name,
            columns,
            schema="raw",
        )
    finally:
        await source.close()
        await target.close()


def _target_type(kind: str) -> str:
    """The type SyncFlow's target table gives a column of this source type."""
    if kind in ("bigint", "integer"):
        return "bigint"
    if kind.startswith("numeric"):
        return "numeric"
    return "date" if kind == "date" else "text"


async def shaped_copy(
    source_url: str, target_url: str, spec: TableSpec, *, index_after: bool = False
) -> float:
    """Seconds for a binary COPY of the same rows into a table of the shape a SyncFlow
    target has (the bridge columns, a uuid primary key, a unique uuid key hash, a tenth
    of each page left free for updates):
    the floor for any sync into that contract, with no client work at all. Key hashes
    are md5 (as random as xxHash); uids follow the rowversion (time-ordered, as uuid7).
    ``index_after``: the unique key index is built after the COPY, as a first load does
    (its time included)."""
    source = await asyncpg.connect(source_url)
    target = await asyncpg.connect(target_url)
    try:
        name = f"{spec.name}_shaped" + ("_late" if index_after else "")
        columns = [(c, _target_type(k)) for c, k in spec.columns] + [("rowversion", "bigint")]
        bridge = [
            ("_bridge_uid", "uuid PRIMARY KEY"),
            ("_bridge_key_hash", "uuid NOT NULL" + ("" if index_after else " UNIQUE")),
            ("_bridge_data_hash", "bytea NOT NULL"),
            ("_bridge_rowversion", "text"),
            ("_bridge_ref", "text"),
            ("_bridge_batch_uid", "uuid"),
            ("_bridge_created_at", "timestamptz NOT NULL"),
            ("_bridge_updated_at", "timestamptz NOT NULL"),
            ("_bridge_deleted_at", "timestamptz"),
        ]
        ddl = ", ".join(f"{c} {k}" for c, k in [*columns, *bridge])
        # the fillfactor SyncFlow gives its targets (syncflow.targets.shape.FILLFACTOR)
        await target.execute(f"CREATE TABLE raw.{name} ({ddl}) WITH (fillfactor = 90)")
        keys = " || '|' || ".join(f"{k}::text" for k in spec.keys)
        select = (
            f"SELECT {', '.join(f'{c}::{k}' for c, k in columns)}, "
            "lpad(to_hex(rowversion), 32, '0')::uuid, "
            f"md5({keys})::uuid, decode(md5({spec.comment}) || md5({keys}), 'hex'), "
            "rowversion::text, NULL::text, "
            "'00000000-0000-7000-8000-000000000000'::uuid, now(), now(), NULL::timestamptz "
            f"FROM {spec.name}"
        )
        seconds = await _pipe_copy(
            source, target, select, name, [c for c, _ in [*columns, *bridge]], schema="raw"
        )
        if index_after:
            start = time.perf_counter()
            await target.execute(f"ALTER TABLE raw.{name} ADD UNIQUE (_bridge_key_hash)")
            seconds += time.perf_counter() - start
        return seconds
    finally:
        await source.close()
        await target.close()


async def dlt_peer(source_url: str, target_url: str, table: str, copy_seconds: float) -> Phase:
    """dlt's full load of the same table (bench/peer_dlt.py, its own process)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("peer_dlt.py")),
        "--source",
        source_url,
        "--target",
        target_url,
        "--table",
        table,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"dlt failed on {table}: {err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Phase(
        table,
        "dlt full load (peer, pyarrow)",
        int(result["rows"]),
        float(result["seconds"]),
        rss_mb={"dlt": float(result["peak_rss_mb"])},
        copy_seconds=copy_seconds,
    )


async def _pipe_copy(
    source: asyncpg.Connection,
    target: asyncpg.Connection,
    select: str,
    table: str,
    columns: list[str],
    schema: str,
) -> float:
    """Seconds for ``COPY (select) TO STDOUT`` piped into ``COPY table FROM STDIN`` (binary)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    async def produce(data: bytes) -> None:
        await queue.put(bytes(data))

    async def chunks() -> AsyncIterator[bytes]:
        while (data := await queue.get()) is not None:
            yield data

    async def read() -> None:
        try:
            await source.copy_from_query(select, output=produce, format="binary")
        finally:
            await queue.put(None)

    start = time.perf_counter()
    await asyncio.gather(
        read(),
        target.copy_to_table(
            table, schema_name=schema, source=chunks(), columns=columns, format="binary"
        ),
    )
    return time.perf_counter() - start


async def change_source(url: str, spec: TableSpec) -> tuple[int, int]:
    """1% of rows get a new comment and rowversion, 0.1% are deleted: (updated, deleted)."""
    keys = ", ".join(spec.keys)
    match = " AND ".join(f"t.{k} = s.{k}" for k in spec.keys)
    numbered = f"SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS n FROM {spec.name}"
    conn = await asyncpg.connect(url)
    try:
        updated = await conn.execute(
            f"UPDATE {spec.name} t SET {spec.comment} = left('bench ' || t.{spec.comment}, 40), "
            f"rowversion = nextval('rv') FROM ({numbered}) s WHERE {match} AND s.n % 100 = 7"
        )
        deleted = await conn.execute(
            f"DELETE FROM {spec.name} t USING ({numbered}) s WHERE {match} AND s.n % 1000 = 503"
        )
        await conn.execute(f"ANALYZE {spec.name}")
        return int(updated.split()[-1]), int(deleted.split()[-1])
    finally:
        await conn.close()


async def target_count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            f"SELECT count(*) FROM erp.{table} WHERE _bridge_deleted_at IS NULL"
        )
        return count
    finally:
        await conn.close()


# -- the services --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def service(
    name: str, port: int, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``<name> serve --port`` as a child process (the venv's script, no ``uv`` wrapper)."""
    script = Path(sys.executable).parent / name
    # bytecode cached as a deployed service has it: with PYTHONDONTWRITEBYTECODE (set on
    # these machines) every process compiled each module it imported, the lazily
    # imported ones in the middle of a measured sync (numpy.ma: 0.44 s in one)
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(script), "serve", "--port", str(port)],
            env={**inherited, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_healthy(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{client.base_url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(f"{API}/health")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{client.base_url} did not become healthy")


def check(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} "
            f"{response.text[:500]}"
        )
    return response.json()


async def sign_in_for_reader_token(client: httpx.AsyncClient, name: str) -> str:
    """Sign ``client`` in as the bench admin; a new reader service token ``name``."""
    login = check(
        await client.post(
            f"{API}/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        ),
        200,
    )
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    created = check(
        await client.post(f"{API}/auth/tokens", json={"name": name, "role": "reader"}), 201
    )
    return str(created["token"])


async def register_apismith(client: httpx.AsyncClient, source_url: str, tables: list[str]) -> str:
    """Admin login, a reader token, the ERP connection and one API per table."""
    token = await sign_in_for_reader_token(client, "syncflow")
    connection = check(
        await client.post(
            f"{API}/connections",
            json={
                "name": "tpch",
                "dialect": "postgresql",
                "url": source_url,
                "options": {"statement_timeout_ms": 300_000},
            },
        ),
        201,
    )
    for table in tables:
        spec = TABLES[table]
        check(
            await client.post(
                f"{API}/apis",
                json={
                    "slug": f"tpch-{table}",
                    "name": table,
                    "connection_uid": connection["uid"],
                    "sql": f"SELECT {', '.join(spec.column_names())}, rowversion FROM {table}",
                    "business_keys": list(spec.keys),
                    "rowversion_column": "rowversion",
                    "delta_strategy": "rowversion",
                },
            ),
            201,
        )
    return str(token)


async def register_syncflow(
    client: httpx.AsyncClient,
    apismith_url: str,
    token: str,
    tables: list[str],
    *,
    page_size: int,
    with_hash: bool,
) -> None:
    check(
        await client.post(
            f"{API}/sources", json={"name": "tpch", "base_url": apismith_url, "token": token}
        ),
        201,
    )
    for table in tables:
        strategies = ["rowversion", "hash"] if with_hash else ["rowversion"]
        for strategy in strategies:
            check(
                await client.post(
                    f"{API}/entities",
                    json={
                        "name": entity_name(table, strategy),
                        "source": "tpch",
                        "api_slug": f"tpch-{table}",
                        "delta_strategy": strategy,
                        "page_size": page_size,
                        "delete_policy": {"mode": "hard", "max_ratio": 0.05},
                    },
                ),
                201,
            )


async def register_delivery(
    client: httpx.AsyncClient, standin_url: str, tables: list[str], batch_size: int
) -> None:
    """A rowversion entity ``<table>_delivered`` per table and a ScheduleHub destination
    (the stand-in) for those entities only: their syncs write the outbox."""
    for table in tables:
        body = {
            "name": entity_name(table, "delivered"),
            "source": "tpch",
            "api_slug": f"tpch-{table}",
            "delta_strategy": "rowversion",
        }
        check(await client.post(f"{API}/entities", json=body), 201)
    destination = {
        "name": "standin",
        "kind": "schedulehub",
        "url": standin_url,
        "entities": [entity_name(table, "delivered") for table in tables],
        "username": "syncflow",
        "password": STANDIN_PASSWORD,
        "batch_size": batch_size,
    }
    check(await client.post(f"{API}/destinations", json=destination), 201)


async def standin_records(client: httpx.AsyncClient, entity: str) -> int:
    """Live records of ``entity`` at the ScheduleHub stand-in."""
    state = check(await client.get("/_control/state"), 200)
    live: int = state["records"].get(entity, {}).get("live", 0)
    return live


def entity_name(table: str, strategy: str) -> str:
    return table if strategy == "rowversion" else f"{table}_{strategy}"


async def run_sync(
    client: httpx.AsyncClient, entity: str, mode: str = "incremental"
) -> tuple[float, dict[str, Any]]:
    """Seconds from start to completed, and the batch's final status."""
    start = time.perf_counter()
    batch = check(
        await client.post(f"{API}/sync/start", json={"entity": entity, "mode": mode}), 202
    )
    while True:
        status = check(await client.get(f"{API}/sync/status/{batch['batch_uid']}"), 200)
        if status["status"] in ("completed", "failed", "cancelled"):
            seconds = time.perf_counter() - start
            if status["status"] != "completed":
                raise RuntimeError(f"sync of {entity} ended {status['status']}: {status['error']}")
            return seconds, status
        # fine-grained while the sync is short (the poll's granularity would be most of
        # a 0.2 s sync), every 100 ms once it is long (polls cost the service CPU)
        await asyncio.sleep(min(0.1, max(0.01, (time.perf_counter() - start) / 20)))


async def stage_seconds(syncflow_url: str, batch_uid: str) -> dict[str, float]:
    conn = await asyncpg.connect(syncflow_url)
    try:
        value = await conn.fetchval(
            "SELECT stage_seconds::text FROM sync_batches WHERE uid = $1", batch_uid
        )
    finally:
        await conn.close()
    if not value:
        return {}
    return {k: round(float(v), 2) for k, v in json.loads(value).items()}


# -- the run -------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    urls: dict[str, str]
    phases: list[Phase] = field(default_factory=list)
    source_rows: dict[str, int] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # the tables whose full sync is delivered to the stand-in (--delivery)
    delivered: list[str] = field(default_factory=list)

    async def sync_phase(
        self,
        client: httpx.AsyncClient,
        sampler: UsageSampler,
        table: str,
        name: str,
        entity: str,
        *,
        copy_seconds: float,
        full_seconds: float | None = None,
        mode: str = "incremental",
    ) -> Phase:
        sampler.reset()
        seconds, status = await run_sync(client, entity, mode)
        counters = status["counters"]
        phase = Phase(
            table=table,
            name=name,
            rows=int(counters["fetched"]),
            seconds=seconds,
            **sampler.usage(),
            counters=counters,
            stage_seconds=await stage_seconds(self.urls["syncflow"], status["batch_uid"]),
            copy_seconds=copy_seconds,
            full_seconds=full_seconds,
        )
        self.report(phase)
        return phase

    def report(self, phase: Phase) -> None:
        self.phases.append(phase)
        rss = " ".join(f"{k}={v:.0f}MB" for k, v in phase.rss_mb.items())
        rss += "".join(f" {k}_cpu={v:.1f}s" for k, v in phase.cpu_s.items())
        if phase.busy is not None:
            rss += f" machine_busy={phase.busy:.0%}"
        counters = " ".join(f"{k}={v}" for k, v in phase.counters.items() if v)
        print(
            f"  {phase.table:9} {phase.name:32} {phase.rows:>9} rows {phase.seconds:8.2f} s "
            f"{phase.rate():>10} rows/s {phase.ratio():>7} {phase.of_full():>6} {rss}  {counters}",
            flush=True,
        )
        if phase.stage_seconds:
            print(f"            stages: {phase.stage_seconds}", flush=True)
        by_database = ", ".join(f"{k} {v:.1f}" for k, v in phase.server_cpu.items() if v >= 0.05)
        if by_database:
            print(f"            PostgreSQL CPU s by database: {by_database}", flush=True)


async def bench_table(
    bench: Bench,
    table: str,
    apismith: httpx.AsyncClient,
    syncflow: httpx.AsyncClient,
    sampler: UsageSampler,
    standin: httpx.AsyncClient | None,
) -> None:
    urls, spec, quick = bench.urls, TABLES[table], bench.args.quick
    rows = bench.source_rows[table]
    copy_seconds = await raw_copy(urls["source"], urls["target"], spec)
    bench.report(Phase(table, "raw binary COPY", rows, copy_seconds, copy_seconds=copy_seconds))
    floor = await shaped_copy(urls["source"], urls["target"], spec)
    bench.report(
        Phase(table, "COPY into the target's table shape", rows, floor, copy_seconds=copy_seconds)
    )
    late = await shaped_copy(urls["source"], urls["target"], spec, index_after=True)
    bench.report(
        Phase(table, "the same, key index built after", rows, late, copy_seconds=copy_seconds)
    )
    if bench.args.peers:
        bench.report(await dlt_peer(urls["source"], urls["target"], table, copy_seconds))

    full = await bench.sync_phase(
        syncflow, sampler, table, "full initial sync (rowversion)", table, copy_seconds=copy_seconds
    )
    assert await target_count(urls["target"], table) == rows
    await bench.sync_phase(
        syncflow,
        sampler,
        table,
        "re-sync unchanged (rowversion)",
        table,
        copy_seconds=copy_seconds,
        full_seconds=full.seconds,
    )
    hash_entity = entity_name(table, "hash")
    hash_full = None
    if not quick:
        hash_full = await bench.sync_phase(
            syncflow,
            sampler,
            table,
            "full initial sync (hash)",
            hash_entity,
            copy_seconds=copy_seconds,
        )
        await bench.sync_phase(
            syncflow,
            sampler,
            table,
            "re-sync unchanged (hash)",
            hash_entity,
            copy_seconds=copy_seconds,
            full_seconds=hash_full.seconds,
        )
    updated, deleted = await change_source(urls["source"], spec)
    print(f"{table}: {updated:,} rows updated, {deleted:,} deleted in the source", flush=True)
    await bench.sync_phase(
        syncflow,
        sampler,
        table,
        "incremental, 1% changed (rowversion)",
        table,
        copy_seconds=copy_seconds,
        full_seconds=full.seconds,
    )
    if hash_full is not None:
        await bench.sync_phase(
            syncflow,
            sampler,
            table,
            "incremental, 1% changed (hash)",
            hash_entity,
            copy_seconds=copy_seconds,
            full_seconds=hash_full.seconds,
        )
        assert await target_count(urls["target"], hash_entity) == rows - deleted
    bench.report(await verify_phase(syncflow, sampler, table, copy_seconds, extra=deleted))
    if standin is not None:
        await delivery_phases(bench, table, syncflow, standin, sampler, copy_seconds, full)


async def verify_phase(
    syncflow: httpx.AsyncClient,
    sampler: UsageSampler,
    table: str,
    copy_seconds: float,
    *,
    extra: int,
) -> Phase:
    """``verify`` of the rowversion entity after its syncs: the whole source read again
    and compared with the target. The rows deleted in the source are ``extra`` (an
    incremental rowversion sync does not see deletes); anything else is a failure."""
    sampler.reset()
    start = time.perf_counter()
    response = await syncflow.post(f"{API}/entities/{table}/verify", timeout=900.0)
    report = check(response, 200)
    if (report["missing"], report["extra"], report["different"]) != (0, extra, 0):
        raise RuntimeError(f"verify of {table} found what the syncs did not do: {report}")
    return Phase(
        table,
        "verify (whole source against target)",
        int(report["source_rows"]),
        time.perf_counter() - start,
        **sampler.usage(),
        counters={name: int(report[name]) for name in ("missing", "extra", "different")},
        copy_seconds=copy_seconds,
    )


async def delivery_phases(
    bench: Bench,
    table: str,
    syncflow: httpx.AsyncClient,
    standin: httpx.AsyncClient,
    sampler: UsageSampler,
    copy_seconds: float,
    full: Phase,
) -> None:
    """A full sync of the delivered entity (its cost with the outbox, against the plain
    full sync), then the time from its start until the stand-in holds every row."""
    entity = entity_name(table, "delivered")
    start = time.perf_counter()
    synced = await bench.sync_phase(
        syncflow,
        sampler,
        table,
        "full initial sync with the outbox",
        entity,
        copy_seconds=copy_seconds,
        full_seconds=full.seconds,
    )
    expected = int(synced.counters["inserted"])
    while True:
        held = await standin_records(standin, entity)
        if held >= expected:
            break
        # the stand-in's count reads its whole table (every 0.5 s it was a load of its own
        # on the server being measured): asked rarely while much is left, often near the end
        rate = held / (time.perf_counter() - start)
        wait = (expected - held) / rate / 2 if rate else 1.0
        await asyncio.sleep(min(max(wait, 0.25), 5.0))
    seconds = time.perf_counter() - start
    bench.report(
        Phase(
            table,
            "delivered: every row at ScheduleHub",
            held,
            seconds,
            **sampler.usage(),
            copy_seconds=copy_seconds,
            full_seconds=full.seconds,
        )
    )


async def run(args: argparse.Namespace) -> Bench:
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise SystemExit(f"unknown tables: {', '.join(sorted(unknown))}")
    delivered = [] if args.delivery is None else delivered_tables(args, tables)
    scales = dict.fromkeys(tables, args.scale)
    if args.lineitem_scale is not None and "lineitem" in scales:
        scales["lineitem"] = args.lineitem_scale
    folders = {table: generate(scale, [table]) for table, scale in scales.items()}
    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    prefix = "bench"
    urls = await fresh_databases(server, prefix)
    bench = Bench(args=args, urls=urls, scales=scales, delivered=delivered)
    for table in tables:
        rows = await load_source(urls["source"], TABLES[table], folders[table] / f"{table}.csv")
        bench.source_rows[table] = rows
        print(f"{table}: {rows:,} rows loaded into the source", flush=True)
    logs = DATA / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    apismith_port, syncflow_port = free_port(), free_port()
    apismith_url = f"http://127.0.0.1:{apismith_port}"
    syncflow_url = f"http://127.0.0.1:{syncflow_port}"
    common = {"LOG_FILE": "false", "LOG_LEVEL": args.log_level, "DATA_DIR": str(DATA / "run")}
    apismith_env = {
        **{f"APISMITH_{k}": v for k, v in common.items()},
        "APISMITH_DATABASE_URL": urls["apismith"],
        "APISMITH_ADMIN_USERNAME": ADMIN_USER,
        "APISMITH_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    syncflow_env = {
        **{f"SYNCFLOW_{k}": v for k, v in common.items()},
        "SYNCFLOW_DATABASE_URL": urls["syncflow"],
        "SYNCFLOW_TARGET_DATABASE_URL": urls["target"],
        "SYNCFLOW_ADMIN_TOKEN": OPERATOR_TOKEN,
    }
    standin_port = free_port()
    standin_url = f"http://127.0.0.1:{standin_port}"
    standin_env = {
        **{f"SCHEDULEHUB_{k}": v for k, v in common.items()},
        "SCHEDULEHUB_DATABASE_URL": urls["schedulehub"],
        "SCHEDULEHUB_PASSWORD": STANDIN_PASSWORD,
        "SCHEDULEHUB_MAX_BATCH_RECORDS": str(args.delivery_batch),
    }
    try:
        with contextlib.ExitStack() as processes:
            a_proc = processes.enter_context(
                service("apismith", apismith_port, apismith_env, logs / "apismith.log")
            )
            s_proc = processes.enter_context(
                service("syncflow", syncflow_port, syncflow_env, logs / "syncflow.log")
            )
            h_proc = None
            if delivered:
                h_proc = processes.enter_context(
                    service("schedulehub-standin", standin_port, standin_env, logs / "standin.log")
                )
            urls_of = {"apismith": apismith_url, "syncflow": syncflow_url}
            if h_proc is not None:
                urls_of["standin"] = standin_url
            await run_services(bench, tables, (a_proc, s_proc, h_proc), urls_of)
    finally:
        if not args.keep:
            await drop_databases(server, prefix)
    return bench


Processes = tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], subprocess.Popen[bytes] | None]


async def run_services(
    bench: Bench, tables: list[str], processes: Processes, service_urls: dict[str, str]
) -> None:
    """Register everything with the running services, then every table's phases."""
    args = bench.args
    a_proc, s_proc, h_proc = processes
    timeout = httpx.Timeout(60.0)
    async with contextlib.AsyncExitStack() as clients:
        apismith = await clients.enter_async_context(
            httpx.AsyncClient(base_url=service_urls["apismith"], timeout=timeout)
        )
        syncflow = await clients.enter_async_context(
            httpx.AsyncClient(
                base_url=service_urls["syncflow"],
                timeout=timeout,
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            )
        )
        await wait_healthy(apismith, a_proc)
        await wait_healthy(syncflow, s_proc)
        pids = {"apismith": a_proc.pid, "syncflow": s_proc.pid}
        standin = None
        if h_proc is not None:
            standin = await clients.enter_async_context(
                httpx.AsyncClient(base_url=service_urls["standin"], timeout=timeout)
            )
            await wait_healthy(standin, h_proc)
            pids["schedulehub"] = h_proc.pid
        token = await register_apismith(apismith, bench.urls["source"], tables)
        await register_syncflow(
            syncflow,
            service_urls["apismith"],
            token,
            tables,
            page_size=args.page_size,
            with_hash=not args.quick,
        )
        if standin is not None:
            await register_delivery(
                syncflow, service_urls["standin"], bench.delivered, args.delivery_batch
            )
        with UsageSampler(pids, server_pid=await local_server_pid(bench.urls["source"])) as sampler:
            for table in tables:
                to = standin if table in bench.delivered else None
                await bench_table(bench, table, apismith, syncflow, sampler, to)


def delivered_tables(args: argparse.Namespace, tables: list[str]) -> list[str]:
    """The tables ``--delivery`` names (all of them without a list)."""
    if args.delivery == "all":
        return tables
    named = args.delivery.split(",")
    unknown = sorted(set(named) - set(tables))
    if unknown:
        raise SystemExit(f"--delivery {args.delivery}: not among --tables: {', '.join(unknown)}")
    return named


# -- the report ----------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def version() -> str:
        conn = await asyncpg.connect(server)
        try:
            text: str = await conn.fetchval("SELECT version()")
            return text.split(" on ")[0]
        finally:
            await conn.close()

    return [
        ("CPU", f"{cpu}, {psutil.cpu_count(logical=True)} logical cores"),
        ("RAM", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"),
        ("OS", platform.platform()),
        ("PostgreSQL", asyncio.run(version())),
        ("Python", platform.python_version()),
    ]


def markdown(bench: Bench, started: datetime) -> str:
    args = bench.args
    lines = [
        BEGIN_MARK,
        f"## Latest run: {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`uv run --group bench python bench/run.py --scale {args.scale:g} "
        f"--tables {args.tables}"
        + (f" --lineitem-scale {args.lineitem_scale:g}" if args.lineitem_scale else "")
        + (f" --page-size {args.page_size}" if args.page_size != 10000 else "")
        + (" --quick" if args.quick else "")
        + (" --peers" if args.peers else "")
        + ("" if args.delivery is None else " --delivery")
        + (f" {args.delivery}" if args.delivery not in (None, "all") else "")
        + (f" --delivery-batch {args.delivery_batch}" if args.delivery_batch != 1000 else "")
        + "`",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in machine()),
        "",
        "| table (scale) | phase | rows | seconds | rows/s | vs raw COPY | % of full sync "
        "| peak RSS APISmith / SyncFlow | CPU s APISmith / SyncFlow | CPU s PostgreSQL "
        "| CPU s stand-in | machine busy |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in bench.phases:
        rss = " / ".join(f"{p.rss_mb[k]:.0f} MB" for k in ("apismith", "syncflow") if k in p.rss_mb)
        if "dlt" in p.rss_mb:  # the peer is one process
            rss = f"dlt {p.rss_mb['dlt']:.0f} MB"
        cpu = " / ".join(f"{p.cpu_s[k]:.1f}" for k in ("apismith", "syncflow") if k in p.cpu_s)
        server, standin = (f"{p.cpu_s[k]:.1f}" if k in p.cpu_s else "" for k in PROCESSES)
        busy = "" if p.busy is None else f"{p.busy:.0%}"
        lines.append(
            f"| {p.table} (SF {bench.scales.get(p.table, args.scale):g}) | {p.name} | "
            f"{p.rows:,} | {p.seconds:.2f} | {p.rate()} | {p.ratio()} | {p.of_full()} | "
            f"{rss} | {cpu} | {server} | {standin} | {busy} |"
        )
    lines += ["", "Time per SyncFlow stage (seconds, from the batch's `stage_seconds`):", ""]
    for p in bench.phases:
        if p.stage_seconds:
            stages = ", ".join(f"{k} {v}" for k, v in p.stage_seconds.items())
            lines.append(f"- {p.table}, {p.name}: {stages}")
    lines += ["", "PostgreSQL's CPU by database (seconds; `bench_*` are the run's databases):", ""]
    for p in bench.phases:
        used = ", ".join(f"{k} {v:.1f}" for k, v in p.server_cpu.items() if v >= 0.05)
        if used:
            lines.append(f"- {p.table}, {p.name}: {used}")
    lines += ["", END_MARK]
    return "\n".join(lines)


# the processes besides the services whose CPU the report shows
PROCESSES = ("postgres", "schedulehub")


def write_results(text: str) -> None:
    """Replace the run's part of RESULTS.md (between the markers), keeping the rest."""
    if RESULTS.exists():
        current = RESULTS.read_text()
        if BEGIN_MARK in current and END_MARK in current:
            head, _, rest = current.partition(BEGIN_MARK)
            _, _, tail = rest.partition(END_MARK)
            RESULTS.write_text(head + text + tail)
            return
        RESULTS.write_text(current.rstrip() + "\n\n" + text + "\n")
        return
    RESULTS.write_text("# Benchmark results\n\n" + text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--tables", default="orders,lineitem")
    parser.add_argument(
        "--lineitem-scale", type=float, default=None, help="scale factor of lineitem alone"
    )
    parser.add_argument("--quick", action="store_true", help="rowversion strategy only")
    parser.add_argument(
        "--peers", action="store_true", help="also time dlt's full load of each table"
    )
    parser.add_argument(
        "--delivery",
        nargs="?",
        const="all",
        default=None,
        metavar="TABLES",
        help="also deliver a full sync of each table (or of these, comma-separated) "
        "to a ScheduleHub stand-in",
    )
    parser.add_argument(
        "--delivery-batch",
        type=int,
        default=1000,
        help="the destination's batch size (and the most records the stand-in takes a call)",
    )
    parser.add_argument("--page-size", type=int, default=10000, help="entities' page_size")
    parser.add_argument("--log-level", default="WARNING", help="the services' log level")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    started = datetime.now(UTC)
    bench = asyncio.run(run(args))
    if not args.no_write:
        write_results(markdown(bench, started))
        print(f"results written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
