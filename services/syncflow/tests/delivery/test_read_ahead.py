"""The next window of a straight stream, read while the current one is out: used only by
the step that starts where it starts, with the destination and entity unchanged, else
read afresh."""

import asyncio
import uuid

import pytest

from syncflow.delivery.read_ahead import WindowsAhead

STREAM = (uuid.uuid4(), "parts")


def reader(events: list[dict], reads: list[int]):
    async def read() -> list[dict]:
        reads.append(1)
        await asyncio.sleep(0.01)
        return events

    return read


async def test_the_step_that_starts_where_the_window_starts_takes_it():
    ahead, reads = WindowsAhead(), []
    ahead.start(STREAM, after=10, version="v1", read=reader([{"id": 11}], reads))
    assert await ahead.take(STREAM, after=10, version="v1") == [{"id": 11}]
    assert await ahead.take(STREAM, after=10, version="v1") is None  # taken once
    assert reads == [1]


@pytest.mark.parametrize(
    ("after", "version"), [(5, "v1"), (10, "v2")], ids=["cursor-not-moved", "destination-edited"]
)
async def test_a_window_that_no_longer_fits_is_dropped(after, version):
    # the window being sent was not recorded (the cursor stayed at 5), or the destination
    # was edited (its paths and batch size shape the window): the step reads afresh
    ahead = WindowsAhead()
    ahead.start(STREAM, after=10, version="v1", read=reader([{"id": 11}], []))
    assert await ahead.take(STREAM, after=after, version=version) is None
    assert await ahead.take(STREAM, after=10, version="v1") is None
    await ahead.close()


async def test_a_failed_read_ahead_leaves_the_read_to_the_step():
    async def failing() -> list[dict]:
        raise OSError("connection reset")

    ahead = WindowsAhead()
    ahead.start(STREAM, after=10, version="v1", read=failing)
    assert await ahead.take(STREAM, after=10, version="v1") is None


async def test_windows_nobody_took_for_a_while_are_dropped():
    ahead = WindowsAhead()
    ahead.start(STREAM, after=10, version="v1", read=reader([{"id": 11}], []))
    other = (uuid.uuid4(), "orders")
    await asyncio.sleep(0.05)
    ahead.start(other, after=3, version="v1", read=reader([{"id": 4}], []))
    ahead.drop_older(0.03)
    assert await ahead.take(STREAM, after=10, version="v1") is None
    assert await ahead.take(other, after=3, version="v1") == [{"id": 4}]


async def test_shutdown_stops_reads_still_running():
    # a read can wait long (behind a sync's writer lock, on a stalled connection):
    # stopping the worker must not wait for it
    async def stalled() -> list[dict]:
        await asyncio.sleep(60)
        return []

    ahead = WindowsAhead()
    ahead.start(STREAM, after=10, version="v1", read=stalled)
    ahead.start(STREAM, after=20, version="v1", read=stalled)  # the first one is dropped
    await asyncio.wait_for(ahead.close(), timeout=2)
