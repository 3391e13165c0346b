"""Whether a PostgreSQL connection would reach APISmith's own metadata database.

Both URLs are reduced to where they lead: the machine (as a set of addresses), the
port and the database name. Every name for this machine counts as one machine,
"this host": ``localhost``, loopback and unspecified addresses (``127.0.0.1``,
``::1``, ``0.0.0.0``, ``::``), the host name and any address bound here, and
Unix-socket directories (a server on ``127.0.0.1:5432`` usually listens on its
socket too). Other host names are resolved; one shared address means one machine.
A name that does not resolve is compared as written.

The check errs towards refusing: a second local server on the same port number
(a socket in another directory) with a database of the same name is refused too.
"""

import asyncio
import ipaddress
import socket

from apismith.drivers.urls import PostgresEndpoint

THIS_HOST = "this host"

# a resolver that does not answer in time leaves the name compared as written
RESOLVE_TIMEOUT_S = 5.0


def _is_this_host(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return True
    # an address this machine holds is one it can bind to
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


async def machine_addresses(host: str) -> frozenset[str]:
    """The addresses ``host`` stands for, with this machine's folded into ``THIS_HOST``."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name.startswith("/") or name in ("", "localhost") or name.endswith(".localhost"):
        return frozenset({THIS_HOST})
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM),
            RESOLVE_TIMEOUT_S,
        )
    except (OSError, UnicodeError, TimeoutError):
        return frozenset({name})
    addresses = {str(info[4][0]) for info in infos}
    return frozenset(THIS_HOST if _is_this_host(address) else address for address in addresses)


async def points_at_own_database(target: PostgresEndpoint, own: PostgresEndpoint) -> bool:
    """True when ``target`` is the database at ``own`` under any host alias."""
    if target.port != own.port or target.database != own.database:
        return False
    return bool(await machine_addresses(target.host) & await machine_addresses(own.host))
