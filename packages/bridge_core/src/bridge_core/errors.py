"""Domain errors that carry their HTTP status.

    BridgeError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── Unprocessable (422)
    ├── TooManyRequests (429, with Retry-After)
    ├── BadGateway (502)
    ├── ServiceUnavailable (503)
    └── GatewayTimeout (504)

Services raise these; one handler (``bridge_core.http.errors``) renders them as
``{"detail": message}`` with the status code; a 422 is rendered like a validation
error, ``{"detail": [{"loc", "msg", "type"}]}``, so every 422 of a service has one
shape. Messages must never hold secrets.
"""


class BridgeError(Exception):
    """Base class: an error a user may see, with the HTTP status it maps to."""

    status_code: int = 500

    def __init__(self, detail: str, *, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(detail)
        self.detail = detail
        # where the problem is, for a 422: ("body", "sql"), ("query", "page"), ...
        self.loc = loc


class BadRequest(BridgeError):
    status_code = 400


class Unauthorized(BridgeError):
    status_code = 401


class Forbidden(BridgeError):
    status_code = 403


class NotFound(BridgeError):
    status_code = 404


class Conflict(BridgeError):
    status_code = 409


class Unprocessable(BridgeError):
    status_code = 422


class TooManyRequests(BridgeError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BadGateway(BridgeError):
    status_code = 502


class ServiceUnavailable(BridgeError):
    status_code = 503


class GatewayTimeout(BridgeError):
    status_code = 504
