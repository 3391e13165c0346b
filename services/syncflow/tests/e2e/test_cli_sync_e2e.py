"""``syncflow sync ENTITY`` as a person runs it: a real process on a terminal (a pty),
against a real APISmith, with the progress bar drawn and the summary printed."""

import asyncio
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from services.syncflow.tests.commands_env import command_env


def run_cli_on_a_terminal(world, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        **command_env(world.settings, SYNCFLOW_SOURCE_TIMEZONE=world.settings.source_timezone),
        "TERM": "xterm-256color",
    }
    env.pop("NO_COLOR", None)
    primary, secondary = pty.openpty()
    # a terminal of 40 rows by 120 columns, as a person's window would be
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    command = [str(Path(sys.executable).parent / "syncflow"), *args]
    process = subprocess.Popen(
        command, env=env, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    output = bytearray()
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the pty closes when the process exits
            break
        if not chunk:
            break
        output.extend(chunk)
    os.close(primary)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    return process.wait(timeout=60), screen


@pytest.mark.no_worker
async def test_sync_command_draws_progress_and_prints_the_summary(world):
    code, screen = await asyncio.to_thread(run_cli_on_a_terminal, world, "sync", "parts")

    assert "TypeError" not in screen, screen
    assert code == 0, screen
    assert "rows" in screen  # the progress column was drawn
    words = " ".join(screen.split())  # the table's title wraps to the table's width
    assert "parts: completed (incremental)" in words
    assert "inserted" in screen
    rows = await world.target("SELECT count(*) FROM erp.parts")
    assert rows[0][0] == 5
