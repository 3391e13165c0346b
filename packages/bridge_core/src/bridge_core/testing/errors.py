"""Reading an error response in tests: the message, whichever of the two shapes it has."""

from typing import Any


def error_message(response: Any) -> str:
    """``detail`` of an error response; a 422's messages joined."""
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return detail
    return "; ".join(problem["msg"] for problem in detail)
