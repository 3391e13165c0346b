"""Every error a service can answer, documented on every operation, in one shape.

Errors are ``{"detail": "message"}``; a 422 is ``{"detail": [{"loc", "msg", "type"}]}``
(``bridge_core.http.errors`` renders both). FastAPI documents only the 422 of request
validation; this adds the statuses the shared machinery produces to each operation:
on secured ones authentication (401, 403, 429), 404 (a path or body may name something
that does not exist) and 502/504 (the call may depend on another system); 404 wherever
there are path parameters, 409 on writes, 413 and 400 wherever there is input.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "title": "Detail"}},
}
_PROBLEM = {
    "title": "Problem",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
}
_INVALID = {
    "title": "InvalidRequest",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}},
}

_SECURED = {
    "401": "Missing, malformed, unknown or expired credentials.",
    "403": "The credentials' role may not do this.",
    "429": "Too many failed sign-ins or bad tokens from this client or for this account; "
    "see Retry-After.",
}
_INPUT = {
    "400": "The request names something the operation cannot use (a field, an operator).",
    "413": "The request body is larger than the service accepts.",
}


def _responses(path: str, method: str, operation: dict[str, Any]) -> dict[str, str]:
    wanted: dict[str, str] = dict(_INPUT)
    if operation.get("security") is not None or "/auth/" in path:
        wanted.update(_SECURED)
        wanted["502"] = "A system this operation depends on answered with an error."
        wanted["504"] = "A system this operation depends on did not answer in time."
    if "{" in path or operation.get("security") is not None:
        wanted["404"] = "Nothing with that identifier or name (in the path or the body)."
    if method in ("post", "put", "patch", "delete"):
        wanted["409"] = "The request conflicts with the current state."
    return wanted


def install_error_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every error status and the one error shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(Error=_ERROR, Problem=_PROBLEM, InvalidRequest=_INVALID)
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        invalid = {"$ref": "#/components/schemas/InvalidRequest"}
        error = {"$ref": "#/components/schemas/Error"}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if path.startswith(("/api/v1/health", "/api/v1/metadata")) or path == "/metrics":
                    continue
                responses["422"] = {
                    "description": "The request is invalid; each problem names where it is.",
                    "content": {"application/json": {"schema": invalid}},
                }
                for status, description in _responses(path, method, operation).items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": error}},
                        },
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
