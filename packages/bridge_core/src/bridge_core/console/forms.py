"""Reading console forms: text fields to values, and a refused payload to one sentence."""

from pydantic import ValidationError
from starlette.datastructures import FormData

__all__ = ["form_text", "form_words", "validation_detail"]


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
