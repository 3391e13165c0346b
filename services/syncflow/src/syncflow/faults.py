"""Crash points: named places in a batch where a test can have the process SIGKILL itself.

The kill -9 tests need to kill SyncFlow exactly between two steps of a chunk (after the
COPY, before the commit, ...), which no timing from outside can hit reliably. A process
started with ``SYNCFLOW_CRASH_AT=<point>`` kills itself with SIGKILL the
``SYNCFLOW_CRASH_AFTER``-th time (default 1) it reaches that point; without the variable
every call is one comparison with ``None``. Never set it in production.

Points: ``fetch`` (a page read, nothing of it written), ``prepare`` (a page through the
pure stages), ``load`` (target rows written, transaction open), ``track`` (tracking rows
written too, cursor and checkpoint not yet), ``commit`` (everything written, just before
the commit), ``resolve`` (freed parked children written, not committed), ``deletes``
(deletes applied, not committed), ``deliver`` (a delivery batch's ``batch/insert`` sent
to ScheduleHub, its updates and deletes not, nothing recorded).
"""

import os
import signal

_POINT = os.environ.get("SYNCFLOW_CRASH_AT") or None
_AFTER = int(os.environ.get("SYNCFLOW_CRASH_AFTER", "1"))
_hits = 0


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when ``name`` is the configured crash point and it
    has been reached the configured number of times."""
    global _hits
    if name != _POINT:
        return
    _hits += 1
    if _hits >= _AFTER:
        os.kill(os.getpid(), signal.SIGKILL)
