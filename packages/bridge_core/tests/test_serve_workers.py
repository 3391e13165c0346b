"""Several server processes on one port: connections spread over them, a dead one is
replaced, a signal stops them all, and a port they cannot take stops the start."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bridge_core.testing.live_server import free_port

SERVED = Path(__file__).parent / "served"


def start(port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    code = (
        "from bridge_core.http.server import serve_workers; "
        f"serve_workers('pid_app:build', host='127.0.0.1', port={port}, workers={workers})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(SERVED)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def pids_answering(port: int, connections: int) -> Counter[int]:
    """The pid behind each of ``connections`` connections opened at once (a burst, as a
    client pool opens them) and held open until all have answered."""
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(connections)]
    try:
        with ThreadPoolExecutor(max_workers=connections) as pool:
            return Counter(pool.map(lambda client: client.get("/pid").json(), clients))
    finally:
        for client in clients:
            client.close()


def wait_for_workers(port: int, count: int, timeout: float = 60) -> Counter[int]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen = pids_answering(port, 40)
            if len(seen) == count:
                return seen
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} workers did not answer on port {port} in time")
        time.sleep(0.2)


@pytest.fixture
def served():
    port = free_port()
    process = start(port)
    yield port, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_connections_spread_over_the_workers_and_a_dead_one_is_replaced(served):
    port, process = served
    seen = wait_for_workers(port, 2)
    # each worker listens on a socket of its own: the kernel spreads the 40 connections
    assert min(seen.values()) >= 8, seen
    killed = min(seen)
    os.kill(killed, signal.SIGKILL)
    time.sleep(0.5)
    replaced = wait_for_workers(port, 2)
    assert killed not in replaced
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/pid", timeout=2)


def test_a_port_held_by_another_program_stops_the_start():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process = start(port)
        try:
            assert process.wait(timeout=60) == 1
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stderr is not None
        assert "could not start" in process.stderr.read().decode()
