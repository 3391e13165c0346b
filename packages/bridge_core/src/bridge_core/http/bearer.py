"""Reading a bearer token from a request, and the 401 that says what is wrong with it."""

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials


def unauthorized(detail: str) -> HTTPException:
    """A 401 with the ``WWW-Authenticate: Bearer`` challenge RFC 6750 asks for."""
    # bridge_core's errors carry no headers, hence FastAPI's exception here
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 when missing or malformed."""
    if credentials is None:
        if request.headers.get("Authorization"):
            raise unauthorized("malformed authorization header: expected 'Bearer <token>'")
        raise unauthorized("missing bearer token")
    return credentials.credentials
