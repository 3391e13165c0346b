"""PostgreSQL pages as native Arrow, through ADBC (``adbc-driver-postgresql``): the
bounded pool of ADBC sessions that reads them.

Only an Arrow ``execute`` page (and its NULL tail) comes here; counts, streams,
``describe`` and JSON pages stay on the asyncpg pool. ADBC is synchronous, so each
fetch runs on a thread of this pool's own, on one of at most ``pool_size`` ADBC
sessions (the connection's option, a bound of its own beside the asyncpg pool's).
Every session starts with the guards of an asyncpg session
(``apismith.drivers.postgresql_arrow_session``); it runs in autocommit, so each
statement is its own read-only transaction, and ``RESET ALL`` after every use puts the
settings back whatever the query did. A session that errored is closed, and one left
idle for ``IDLE_CONNECTION_S`` is closed. A request cancelled while its query runs
cancels the statement on the server (``PQcancel``) and closes the session.

A query goes this way only when ADBC reproduces asyncpg exactly
(``apismith.drivers.postgresql_arrow_types`` says when, and how values cross);
otherwise :meth:`ArrowPages.fetch` answers None and the caller takes the asyncpg path.
"""

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from apismith.drivers.base import ErpUnreachable, check_row_limit
from apismith.drivers.postgresql_arrow_session import check_guards, conninfo, erp_error
from apismith.drivers.postgresql_arrow_types import (
    RESULT_TYPES,
    Plan,
    Unsupported,
    bind,
    canonical,
    column_types,
    plan_of,
)
from apismith.drivers.urls import PostgresTarget

_PLANS_KEPT = 1024


def _readable(plan: Plan) -> bool:
    """Whether every result column of ``plan`` reads through ADBC as through asyncpg."""
    return set(plan.columns) <= RESULT_TYPES


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
        self._conninfo = conninfo(target, statement_timeout_ms, connect_timeout_s)
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
        self._plans: OrderedDict[str, Plan] = OrderedDict()
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
        with self._plans_lock:
            known = self._plans.get(sql)
        if known is not None and not _readable(known):
            return None  # its columns are known: no session or thread is needed to say so
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
            check_guards(connection)
        except BaseException:
            self._close_session(session)
            raise
        return session

    def _plan(self, cursor: Any, sql: str) -> Plan:
        with self._plans_lock:
            plan = self._plans.get(sql)
            if plan is not None:
                self._plans.move_to_end(sql)
                return plan
        parameters = cursor.adbc_prepare(sql)
        columns = cursor.adbc_execute_schema(sql)
        plan = plan_of(parameters, columns)
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
                    if not _readable(plan):
                        raise Unsupported
                    cursor.execute(sql, bind(plan, params, compared))
                    table = cursor.fetch_arrow_table()
                finally:
                    lease.cursor = None
                # settings a query changed go back to the session's (startup) defaults
                cursor.execute("RESET ALL")
            if column_types(table) != plan.columns:
                # the table changed since the plan was made (ALTER TABLE ... TYPE): plan
                # again next time; this page goes the asyncpg way, bound as it should be
                with self._plans_lock:
                    self._plans.pop(sql, None)
                raise Unsupported
            return canonical(table), session
        except Unsupported:
            # raised before the statement ran (plan, bind) or after RESET ALL (canonical):
            # the session is as clean as after a page
            return None, session
        except Exception as exc:
            if session is not None:
                self._close_session(session)
            raise erp_error(
                exc,
                secret=self._secret,
                where=self._where,
                statement_timeout_ms=self._statement_timeout_ms,
            ) from exc

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
