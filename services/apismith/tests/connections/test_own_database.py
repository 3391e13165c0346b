"""Recognising APISmith's own metadata database behind any host alias."""

import json
import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from apismith.connections.own_database import THIS_HOST, machine_addresses, points_at_own_database
from apismith.drivers.urls import postgres_endpoint

CASES = json.loads((Path(__file__).parent / "own_database_cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c['target']} vs {c['own']}" for c in CASES])
async def test_points_at_own_database(case):
    target = postgres_endpoint(make_url(case["target"]))
    own = postgres_endpoint(make_url(case["own"]))
    assert await points_at_own_database(target, own) is case["same"]


async def test_this_machines_names_and_addresses_are_this_host():
    hostname = socket.gethostname()
    assert await machine_addresses(hostname) == {THIS_HOST}
    for info in socket.getaddrinfo(hostname, None):
        assert await machine_addresses(str(info[4][0])) == {THIS_HOST}


async def test_other_addresses_are_kept():
    assert await machine_addresses("192.0.2.123") == {"192.0.2.123"}  # TEST-NET-1, not bound here
