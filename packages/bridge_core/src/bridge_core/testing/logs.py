"""Every log line written while a test runs, for tests that check what was logged (and
that a secret never was)."""

from collections.abc import Iterator
from contextlib import contextmanager

from loguru import logger


@contextmanager
def captured_log_lines() -> Iterator[list[str]]:
    """The formatted log lines (DEBUG and up) written inside the ``with`` block."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink)
