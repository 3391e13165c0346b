"""JSON that keeps every digit of a number, in and out.

SyncFlow sends numerics digit for digit (``123456789012.345678``); a float would keep 17
significant digits of them. So request bodies are parsed with decimals, records are
stored as JSON text written by orjson (a decimal as its own digits), and records are
answered from the JSON text PostgreSQL keeps (``jsonb`` numbers are exact), never
through a float. (Batch inserts skip Python altogether: PostgreSQL reads their body as
``jsonb``, see ``batch_insert``.)
"""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and jsonb cannot hold them
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def loads(body: bytes) -> Any:
    """Parse a JSON body, numbers with a fraction or exponent as ``Decimal``."""
    return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)


def _decimal(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """JSON for ``value``: decimals as their digits, ``orjson.Fragment`` as it is."""
    return orjson.dumps(value, default=_decimal)


class ExactJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class _ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class ExactJSONRoute(APIRoute):
    """A route whose JSON body is parsed by :func:`loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(_ExactJSONRequest(request.scope, request.receive))

        return exact_handler
