"""Source bodies parsed without echoing them back.

FastAPI's own 422 repeats the rejected input, and for a source body that input
holds the APISmith token (e.g. when only ``name`` is missing). These
dependencies validate the same models but answer 422 with field and message only.
Routes using them declare the body schema with :func:`body_schema` for the docs.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from bridge_core.errors import Unprocessable
from syncflow.sources.schemas import SourceCreate, SourceUpdate


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{location}: {error['msg']}"


def validated_body[M: BaseModel](model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that parses the JSON body as ``model`` with input-free 422 messages."""

    async def parse(request: Request) -> M:
        try:
            raw = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise Unprocessable("request body is not valid JSON") from exc
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            raise Unprocessable("; ".join(_describe(e) for e in errors)) from None

    return parse


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` that documents ``model`` as the route's JSON body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


SourceCreateBody = Annotated[SourceCreate, Depends(validated_body(SourceCreate))]
SourceUpdateBody = Annotated[SourceUpdate, Depends(validated_body(SourceUpdate))]
