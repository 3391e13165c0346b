"""Console forms: text fields to values, a refused change to one sentence, and changes
tried inside savepoints so a refused form can be shown again in the same transaction."""

from collections.abc import Awaitable, Callable, Sequence

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import FormData

from bridge_core.errors import BridgeError

__all__ = ["attempt", "form_text", "form_words", "validation_detail"]


async def attempt(
    connections: Sequence[AsyncConnection], change: Callable[[], Awaitable[object]]
) -> str | None:
    """Run ``change`` inside a savepoint of each connection: ``None`` when it went
    through, else the reason it was refused (a validation error or a service's error),
    with its writes rolled back and the request's transaction still usable."""
    savepoints = [await conn.begin_nested() for conn in connections]
    try:
        await change()
    except ValidationError as exc:
        reason: str | None = validation_detail(exc)
    except BridgeError as exc:
        reason = exc.detail
    else:
        for savepoint in reversed(savepoints):
            await savepoint.commit()
        return None
    for savepoint in reversed(savepoints):
        await savepoint.rollback()
    return reason


def form_text(form: FormData, key: str) -> str:
    """A text field, stripped; ``""`` when absent (files are not text)."""
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def form_words(value: str) -> list[str]:
    """A comma-separated field as its non-empty parts."""
    return [part.strip() for part in value.split(",") if part.strip()]


def validation_detail(exc: ValidationError) -> str:
    """Pydantic's errors as ``field: message; ...``, for the form's alert."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'form'}: {error['msg']}" for error in exc.errors()
    )
