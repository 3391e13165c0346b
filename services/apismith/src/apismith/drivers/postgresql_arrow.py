"""PostgreSQL pages as native Arrow, through ADBC (``adbc-driver-postgresql``).

Only an Arrow ``execute`` page (and its NULL tail) comes here; counts, streams,
``describe`` and JSON pages stay on the asyncpg pool. ADBC is synchronous, so each
fetch runs on a thread of this pool's own, on one of at most ``pool_size`` ADBC
sessions (the connection's option, a bound of its own beside the asyncpg pool's).
Every session starts with the same startup parameters as an asyncpg session
(``default_transaction_read_only=on`` and the connection's ``statement_timeout``, in
libpq's ``options``) and is refused when they did not take; it runs in autocommit, so
each statement is its own read-only transaction, and ``RESET ALL`` after every use puts
the settings back whatever the query did. A session that errored is closed, and one left
idle for ``IDLE_CONNECTION_S`` is closed. A request cancelled while its query runs
cancels the statement on the server (``PQcancel``) and closes the session.

A query goes this way only when ADBC reproduces asyncpg exactly; otherwise
:meth:`ArrowPages.fetch` answers None and the caller takes the asyncpg path:

- its result columns are all of ``_RESULT_TYPES`` (no arrays, intervals, uuid, inet,
  money, enums, ...), read once per SQL text (``ExecuteSchema``);
- its parameters are bound with the types PostgreSQL infers for them (as asyncpg does;
  ADBC would otherwise pick types from the Python values: ``text`` where asyncpg sends
  ``bpchar``, and ``char(3) = 'y '`` would stop matching), read once per SQL text
  (``Prepare``), and each value converts to that type without loss (ADBC drops a
  numeric's trailing zeros, so ``Decimal('1.50')`` goes the asyncpg way);
- its values fit Python's ranges (``infinity`` dates and timestamps go the asyncpg way,
  which reads them as ``date.max`` / ``datetime.max``).

The table it returns uses a small vocabulary (``base.ARROW_TEXT_KIND``): int64, float64,
bool, date32, time64[us], binary, utf8, timestamp[us] (``timestamp``, naive) and
timestamp[us, UTC] (``timestamptz``); ``numeric`` as PostgreSQL's digits and
``json``/``jsonb`` as PostgreSQL's text, both utf8 marked with their kind.
"""

import asyncio
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
import pyarrow.compute as pc

from apismith.drivers.base import (
    ARROW_TEXT_KIND,
    ErpQueryError,
    ErpTimeout,
    ErpUnreachable,
    check_row_limit,
    error_text,
)
from apismith.drivers.urls import PostgresTarget

# a result column of these PostgreSQL types reads the same through ADBC as through asyncpg
_RESULT_TYPES = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "bool",
        "date",
        "timestamp",
        "timestamptz",
        "time",
        "bytea",
        "text",
        "varchar",
        "bpchar",
        "name",
        "json",
        "jsonb",
    }
)
_PG_TYPE = b"POSTGRESQL:type"

# Python's date and datetime range, in Arrow's units (days, microseconds since 1970)
_DAYS = (-719_162, 2_932_896)
_MICROSECONDS = (-62_135_596_800_000_000, 253_402_300_799_999_999)

_SESSION_CHECK = (
    "SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout')"
)
# the primary message of a libpq error inside ADBC's text ("... ERROR:  <message>\n...")
_PRIMARY = re.compile(r"ERROR:\s+(.*?)\s*(?:\n|$)")
_UNREACHABLE_SQLSTATES = ("08", "28", "3D", "53", "57P")
_PLANS_KEPT = 1024


class _Unsupported(Exception):
    """This query (or this call's values) cannot go through ADBC exactly."""


def _conninfo(target: PostgresTarget, statement_timeout_ms: int, connect_timeout_s: float) -> str:
    """A libpq connection string with the session's guards as startup parameters."""
    endpoint = target.endpoint
    parts = {
        "host": endpoint.host,
        "port": str(endpoint.port),
        "dbname": endpoint.database,
        "user": target.user,
        "application_name": "apismith",
        "connect_timeout": str(max(1, round(connect_timeout_s))),
        "options": (
            f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms}"
        ),
    }
    if target.password is not None:
        parts["password"] = target.password
    if target.ssl is not None:
        parts["sslmode"] = target.ssl
    return " ".join(f"{key}='{_quoted(value)}'" for key, value in parts.items())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# --- parameters: the Python value as the Arrow type ADBC binds as the inferred type


def _integer(arrow_type: pa.DataType) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _Unsupported
        return pa.array([value], type=arrow_type)  # out of range: ArrowInvalid, asyncpg's way

    return convert


def _numeric(value: Any, *, compared: bool = False) -> pa.Array:
    """A numeric parameter; ADBC sends 1.50 as 1.5 and 0.00 as 0, which only a value
    the query merely ``compared`` may lose (numeric comparison ignores the scale)."""
    if value is None:
        return pa.array([None], type=pa.decimal128(1, 0))
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Unsupported
    decimal = Decimal(value)
    _, digits, exponent = decimal.as_tuple()
    if not isinstance(exponent, int) or len(digits) > 38:
        raise _Unsupported
    if not compared and exponent < 0 and digits[-1] == 0:
        raise _Unsupported  # 1.50 would be sent as 1.5, 0.00 as 0
    scale = max(0, -exponent)
    return pa.array([decimal], type=pa.decimal128(38, scale))


def _typed(arrow_type: pa.DataType, *python_types: type) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and type(value) not in python_types:
            raise _Unsupported
        return pa.array([value], type=arrow_type)

    return convert


def _timestamp(*, aware: bool) -> Callable[[Any], pa.Array]:
    arrow_type = pa.timestamp("us", tz="UTC") if aware else pa.timestamp("us")

    def convert(value: Any) -> pa.Array:
        if value is not None and (
            type(value) is not datetime or (value.tzinfo is not None) is not aware
        ):
            raise _Unsupported  # asyncpg's reading of the other kind is its own
        return pa.array([value], type=arrow_type)

    return convert


def _float(arrow_type: pa.DataType) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _Unsupported
        return pa.array([None if value is None else float(value)], type=arrow_type)

    return convert


def _time(value: Any) -> pa.Array:
    if value is not None and (type(value) is not clock or value.tzinfo is not None):
        raise _Unsupported
    return pa.array([value], type=pa.time64("us"))


_PARAMETERS: dict[str, Callable[[Any], pa.Array]] = {
    "int2": _integer(pa.int16()),
    "int4": _integer(pa.int32()),
    "int8": _integer(pa.int64()),
    "numeric": _numeric,
    "text": _typed(pa.string(), str),
    "bool": _typed(pa.bool_(), bool),
    "date": _typed(pa.date32(), date),
    "timestamp": _timestamp(aware=False),
    "timestamptz": _timestamp(aware=True),
    "time": _time,
    "bytea": _typed(pa.binary(), bytes),
    "float4": _float(pa.float32()),
    "float8": _float(pa.float64()),
}


@dataclass(frozen=True)
class _Plan:
    """What the server said about one SQL text: its parameters' and columns' types."""

    parameters: tuple[str, ...]
    columns: tuple[str, ...]


def _bind(
    plan: _Plan, values: Sequence[Any], compared: frozenset[int] = frozenset()
) -> pa.RecordBatch | None:
    """The parameters as one Arrow row of the types PostgreSQL inferred (``compared``:
    positions of values the query only compares, see ``BoundQuery.compared``)."""
    if len(values) != len(plan.parameters):
        raise _Unsupported  # asyncpg names the wrong count
    if not values:
        return None
    arrays = []
    for position, (type_name, value) in enumerate(zip(plan.parameters, values, strict=True)):
        convert = _PARAMETERS.get(type_name)
        if convert is None:
            raise _Unsupported
        try:
            if type_name == "numeric":
                arrays.append(_numeric(value, compared=position in compared))
            else:
                arrays.append(convert(value))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            raise _Unsupported from None
    return pa.record_batch(arrays, names=[f"${n}" for n in range(1, len(arrays) + 1)])


# --- results: ADBC's columns in the vocabulary of base.ARROW_TEXT_KIND


def _in_range(array: pa.Array, bounds: tuple[int, int], storage: pa.DataType) -> None:
    raw = array.cast(storage) if array.type != storage else array
    if array.null_count < len(array):
        low, high = pc.min_max(raw).values()
        if low.as_py() < bounds[0] or high.as_py() > bounds[1]:
            raise _Unsupported  # infinity: asyncpg reads it as date.max / datetime.max


def _text(array: pa.Array, kind: bytes) -> tuple[pa.Array, dict[bytes, bytes]]:
    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    return storage.cast(pa.string()), {ARROW_TEXT_KIND: kind}


def _column(type_name: str, array: pa.Array) -> tuple[pa.Array, dict[bytes, bytes] | None]:
    match type_name:
        case "int2" | "int4" | "int8":
            return array.cast(pa.int64()), None
        case "float4" | "float8":
            return array.cast(pa.float64()), None
        case "numeric":
            return _text(array, b"decimal")
        case "json" | "jsonb":
            return _text(array, b"json")
        case "date":
            _in_range(array, _DAYS, pa.int32())
            return array, None
        case "timestamp" | "timestamptz":
            _in_range(array, _MICROSECONDS, pa.int64())
            target = pa.timestamp("us", tz="UTC") if type_name == "timestamptz" else None
            return (array.cast(target) if target is not None else array), None
        case "bpchar" | "varchar" | "text" | "name":
            return array.cast(pa.string()), None
        case _:  # bool, time, bytea: already as asyncpg reads them
            return array, None


def _canonical(plan: _Plan, table: pa.Table) -> pa.Table:
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for type_name, name, chunked in zip(
        plan.columns, table.column_names, table.columns, strict=True
    ):
        array, metadata = _column(type_name, chunked.combine_chunks())
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=metadata))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


@dataclass(eq=False)
class _Session:
    connection: Any  # adbc_driver_manager.dbapi.Connection
    idle_timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Lease:
    """One fetch's hold on a session, shared with its thread: the cursor to cancel."""

    session: _Session | None
    cursor: Any = None


class ArrowPages:
    """A bounded pool of ADBC sessions reading PostgreSQL pages as Arrow."""

    def __init__(
        self,
        target: PostgresTarget,
        *,
        pool_size: int,
        statement_timeout_ms: int,
        max_rows: int,
        idle_s: float,
        connect_timeout_s: float,
        where: str,
    ) -> None:
        self._conninfo = _conninfo(target, statement_timeout_ms, connect_timeout_s)
        self._secret = target.password
        self._where = where
        self._statement_timeout_ms = statement_timeout_ms
        self._max_rows = max_rows
        self._idle_s = idle_s
        self._connect_timeout_s = connect_timeout_s
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[_Session] = []
        self._open = 0
        self._open_lock = threading.Lock()
        self._plans: OrderedDict[str, _Plan] = OrderedDict()
        self._plans_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="erp-adbc")
        self._closed = False

    @property
    def open_sessions(self) -> int:
        """ADBC sessions open now (idle or working)."""
        return self._open

    async def fetch(
        self, sql: str, params: Sequence[Any], compared: frozenset[int] = frozenset()
    ) -> pa.Table | None:
        """The rows of ``sql`` as Arrow, or None when ADBC cannot read them exactly."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self._connect_timeout_s)
        except TimeoutError:
            raise ErpUnreachable(
                f"cannot reach PostgreSQL at {self._where}: no free session "
                f"within {self._connect_timeout_s:.0f} s"
            ) from None
        loop = asyncio.get_running_loop()
        lease = _Lease(session=self._take_idle())
        future: Future[tuple[pa.Table | None, _Session | None]] = self._executor.submit(
            self._run, lease, sql, params, compared
        )
        try:
            result, reusable = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # the client went away: stop the statement on the server; the slot is given
            # back once the thread is done with the session, which is then closed
            running = lease.cursor
            if running is not None:
                running.adbc_cancel()
            future.add_done_callback(
                lambda done: loop.call_soon_threadsafe(self._after_cancel, done, lease.session)
            )
            raise
        except BaseException:
            self._slots.release()
            raise
        self._give_back(reusable)
        self._slots.release()
        if result is not None:
            check_row_limit(result.num_rows, self._max_rows)
        return result

    def _after_cancel(self, future: Future[Any], session: _Session | None) -> None:
        if future.cancelled() and session is not None:
            self._close_later(session)  # it never ran (a failed run closed its own)
        elif not future.cancelled() and future.exception() is None:
            _, reusable = future.result()
            if reusable is not None:
                self._close_later(reusable)
        self._slots.release()

    def _take_idle(self) -> _Session | None:
        if not self._idle:
            return None
        session = self._idle.pop()
        if session.idle_timer is not None:
            session.idle_timer.cancel()
            session.idle_timer = None
        return session

    def _give_back(self, session: _Session | None) -> None:
        if session is None:
            return
        if self._closed:
            self._close_later(session)
            return
        self._idle.append(session)
        session.idle_timer = asyncio.get_running_loop().call_later(
            self._idle_s, self._expire, session
        )

    def _expire(self, session: _Session) -> None:
        if session in self._idle:
            self._idle.remove(session)
            self._close_later(session)

    def _close_later(self, session: _Session) -> None:
        try:
            self._executor.submit(self._close_session, session)
        except RuntimeError:  # the pool is closed: no thread is left to wait on
            self._close_session(session)

    # --- on the executor's threads

    def _close_session(self, session: _Session) -> None:
        try:
            session.connection.close()
        except Exception:  # noqa: S110 - a broken session has nothing left to close
            pass
        finally:
            with self._open_lock:
                self._open -= 1

    def _connect(self) -> _Session:
        connection = adbc.connect(self._conninfo, autocommit=True)
        with self._open_lock:
            self._open += 1
        session = _Session(connection=connection)
        try:
            with connection.cursor() as cursor:
                cursor.execute(_SESSION_CHECK)
                read_only, timeout = cursor.fetchone()
        except BaseException:
            self._close_session(session)
            raise
        if read_only != "on" or timeout == "0":
            self._close_session(session)
            raise ErpQueryError(
                "the PostgreSQL session did not start read-only with a statement timeout "
                f"(default_transaction_read_only={read_only}, statement_timeout={timeout}); "
                "a connection pooler between APISmith and the database must pass both "
                "startup parameters on"
            )
        return session

    def _plan(self, cursor: Any, sql: str) -> _Plan:
        with self._plans_lock:
            plan = self._plans.get(sql)
            if plan is not None:
                self._plans.move_to_end(sql)
                return plan
        parameters = cursor.adbc_prepare(sql)
        columns = cursor.adbc_execute_schema(sql)
        plan = _Plan(
            parameters=tuple(_type_name(item) for item in (parameters or ())),
            columns=tuple(_type_name(item) for item in columns),
        )
        with self._plans_lock:
            self._plans[sql] = plan
            while len(self._plans) > _PLANS_KEPT:
                self._plans.popitem(last=False)
        return plan

    def _run(
        self, lease: _Lease, sql: str, params: Sequence[Any], compared: frozenset[int]
    ) -> tuple[pa.Table | None, _Session | None]:
        """The Arrow rows (None: not exactly through ADBC) and the session, when reusable;
        a session that failed is closed."""
        session = lease.session
        try:
            if session is None:
                session = lease.session = self._connect()
            with session.connection.cursor() as cursor:
                lease.cursor = cursor
                try:
                    plan = self._plan(cursor, sql)
                    if not set(plan.columns) <= _RESULT_TYPES:
                        raise _Unsupported
                    cursor.execute(sql, _bind(plan, params, compared))
                    table = cursor.fetch_arrow_table()
                finally:
                    lease.cursor = None
                # settings a query changed go back to the session's (startup) defaults
                cursor.execute("RESET ALL")
            return _canonical(plan, table), session
        except _Unsupported:
            return None, self._reset(session)
        except Exception as exc:
            if session is not None:
                self._close_session(session)
            raise self._error(exc) from exc

    def _reset(self, session: _Session | None) -> _Session | None:
        if session is None:
            return None
        try:
            with session.connection.cursor() as cursor:
                cursor.execute("RESET ALL")
        except Exception:
            self._close_session(session)
            return None
        return session

    def _error(self, exc: Exception) -> Exception:
        if not isinstance(exc, adbc_driver_manager.Error):
            return exc
        raw = str(exc)
        primary = _PRIMARY.search(raw)
        text = error_text(primary.group(1) if primary else raw, secret=self._secret)
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate == "57014" and "statement timeout" in text:
            return ErpTimeout(
                f"the statement ran past {self._statement_timeout_ms} ms and was cancelled"
            )
        if not sqlstate or sqlstate.startswith(_UNREACHABLE_SQLSTATES):
            return ErpUnreachable(f"cannot reach PostgreSQL at {self._where}: {text}")
        return ErpQueryError(f"PostgreSQL rejected the query: {text}")

    async def close(self) -> None:
        """Close the idle sessions; a busy one closes when its fetch ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for session in idle:
            if session.idle_timer is not None:
                session.idle_timer.cancel()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, self._close_session, s) for s in idle)
        )
        self._executor.shutdown(wait=False)


def _type_name(item: pa.Field) -> str:
    metadata: dict[bytes, bytes] = item.metadata or {}
    return metadata.get(_PG_TYPE, b"").decode()
