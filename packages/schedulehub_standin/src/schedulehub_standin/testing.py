"""The stand-in in a test: started on a free loopback port, driven through its control API.

In a conftest (the fixtures need ``create_database`` from ``bridge_core.testing.plugin``,
which the root pytest configuration loads)::

    from schedulehub_standin.testing import schedulehub_standin, schedulehub_standin_server

    async def test_delivery(schedulehub_standin):          # reset before the test
        await schedulehub_standin.control.set_faults(error_rate=0.1, seed=7)
        ...  # point SyncFlow at schedulehub_standin.url, username, password
        state = await schedulehub_standin.control.state()

Or start one yourself: ``with standin_server(standin_settings(database_url)) as standin``
(in-process uvicorn in a thread) or ``with standin_process(settings) as standin`` (the
``schedulehub-standin serve`` command as its own process, for a kill -9).
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from bridge_core.testing.live_server import free_port, live_server
from bridge_core.testing.plugin import CreateDatabase
from schedulehub_standin.main import build_app
from schedulehub_standin.settings import Settings
from schedulehub_standin.signatures import signature

__all__ = [
    "PASSWORD",
    "USERNAME",
    "WEBHOOK_SECRET",
    "StandIn",
    "StandInControl",
    "schedulehub_standin",
    "schedulehub_standin_server",
    "signed_headers",
    "standin_process",
    "standin_server",
    "standin_settings",
]

USERNAME = "syncflow"
PASSWORD = "standin-password-for-tests"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"stand-in webhook secret, tests!!").decode()


def standin_settings(database_url: str | URL, **overrides: Any) -> Settings:
    """Test settings: ``database_url``, the test user and webhook secret, no log file."""
    url = database_url if isinstance(database_url, str) else database_url.render_as_string(False)
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": url,
        "username": USERNAME,
        "password": PASSWORD,
        "webhook_secrets": [WEBHOOK_SECRET],
        "log_file": False,
        **overrides,
    }
    return Settings(**values)


class StandInControl:
    """The control API of a running stand-in (one short-lived client a call, so it works
    from any event loop)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:
            response = await client.request(method, f"/_control{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def reset(self) -> None:
        """Forget every record, log entry and webhook; faults and rules off; counters zero."""
        await self._call("POST", "/reset")

    async def set_faults(self, **plan: Any) -> dict[str, Any]:
        """Put a fault plan in force (see ``FaultPlan``); fields not given are off."""
        result: dict[str, Any] = await self._call("POST", "/faults", json=plan)
        return result

    async def set_rules(
        self, rules: list[dict[str, Any]] | None = None, *, require_parents: bool = False
    ) -> None:
        """Reject records that break ``rules`` (``{entity?, field, equals | pattern, error?}``)."""
        body = {"rules": rules or [], "require_parents": require_parents}
        await self._call("POST", "/rules", json=body)

    async def tokens(
        self, *, access_token_seconds: float | None = None, expire_all: bool = False
    ) -> None:
        """Change the access token lifetime and/or expire every access token now."""
        body = {"access_token_seconds": access_token_seconds, "expire_all": expire_all}
        await self._call("POST", "/tokens", json=body)

    async def set_webhook_secrets(self, secrets: list[str]) -> None:
        await self._call("POST", "/webhook-secrets", json={"secrets": secrets})

    async def state(self) -> dict[str, Any]:
        """Records per entity (live, deleted), applied per entity and op, webhooks,
        counters, faults injected, the plan and rules in force."""
        result: dict[str, Any] = await self._call("GET", "/state")
        return result

    async def records(self, entity: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of ``entity`` held, in key order."""
        params = {"include_deleted": include_deleted}
        result: list[dict[str, Any]] = await self._call("GET", f"/records/{entity}", params=params)
        return result

    async def log(
        self, *, entity: str | None = None, key: str | None = None
    ) -> list[dict[str, Any]]:
        """The whole apply log (of one entity or key), in commit order."""
        entries: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"after": entries[-1]["seq"] if entries else 0}
            params |= {name: value for name, value in (("entity", entity), ("key", key)) if value}
            page: list[dict[str, Any]] = await self._call("GET", "/log", params=params)
            if not page:
                return entries
            entries.extend(page)


@dataclass(frozen=True)
class StandIn:
    """A running stand-in: where it is, how to sign in, and its control API."""

    url: str  # the root, e.g. http://127.0.0.1:41234 (webhooks: {url}/webhooks/{entity})
    api_prefix: str
    username: str
    password: str
    webhook_secrets: tuple[str, ...]
    control: StandInControl

    @property
    def api_url(self) -> str:
        return self.url + self.api_prefix

    def webhook_url(self, entity: str) -> str:
        return f"{self.url}/webhooks/{entity}"


def _standin(url: str, settings: Settings) -> StandIn:
    return StandIn(
        url=url,
        api_prefix=settings.api_prefix,
        username=settings.username,
        password=settings.password.get_secret_value(),
        webhook_secrets=tuple(settings.webhook_secrets),
        control=StandInControl(url),
    )


@contextmanager
def standin_server(settings: Settings) -> Iterator[StandIn]:
    """The stand-in served by uvicorn in a thread of this process until the block ends."""
    with live_server(build_app(settings)) as url:
        yield _standin(url, settings)


def _environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``SCHEDULEHUB_*`` variables a process reads them from."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        text = json.dumps(value) if isinstance(value, list | bool) else str(value)
        env[f"SCHEDULEHUB_{name.upper()}"] = text
    return env


@contextmanager
def standin_process(
    settings: Settings, *, log: Path | None = None, startup_timeout: float = 60.0
) -> Iterator[StandIn]:
    """``schedulehub-standin serve`` as its own process on a free port until the block
    ends (stopped with SIGTERM; the process is ``standin.process`` for a kill -9)."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "schedulehub-standin"),
        "serve",
        "--port",
        str(port),
    ]
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - our own console script, no shell
        command, env=_environment(settings), stdout=output, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{url}{settings.api_prefix}/health", process, startup_timeout)
        yield _standin(url, settings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            output.close()  # type: ignore[union-attr]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"schedulehub-standin exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("schedulehub-standin did not become healthy in time")


def signed_headers(
    body: bytes,
    *,
    secrets: list[str] | tuple[str, ...] = (WEBHOOK_SECRET,),
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed with every secret."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    sent_at = str(int(time.time()) if timestamp is None else timestamp)
    signed = [
        signature(secret, webhook_id=webhook_id, timestamp=sent_at, body=body) for secret in secrets
    ]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": sent_at,
        "webhook-signature": " ".join(signed),
        "content-type": "application/json",
    }


@pytest.fixture(scope="session")
async def schedulehub_standin_server(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[StandIn]:
    """One stand-in for the session (in-process uvicorn), on its own fresh database."""
    url = await create_database("schedulehub")
    settings = standin_settings(url, data_dir=tmp_path_factory.mktemp("schedulehub"))
    with standin_server(settings) as standin:
        yield standin


@pytest.fixture
async def schedulehub_standin(schedulehub_standin_server: StandIn) -> StandIn:
    """The session's stand-in, reset (no records, faults or rules) before the test."""
    await schedulehub_standin_server.control.reset()
    return schedulehub_standin_server
