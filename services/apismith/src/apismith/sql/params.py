"""Saved-query parameters: declarations checked at save (422), values bound per call (400)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apismith.sql.validate import PARAM_NAME
from apismith.sql.values import coerce_value
from bridge_core.errors import BadRequest, Unprocessable

PARAM_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")


@dataclass(frozen=True)
class ParamSpec:
    """A declared parameter of a saved query, used in its SQL as ``:name``."""

    name: str
    type: str
    required: bool = False
    default: Any = None


def check_declared_params(*, declared: Sequence[ParamSpec], used: Sequence[str]) -> None:
    """422 unless ``declared`` describes exactly the parameters the SQL uses, each well formed."""
    names: set[str] = set()
    for spec in declared:
        if not PARAM_NAME.fullmatch(spec.name):
            raise Unprocessable(
                f"parameter '{spec.name}' is not a valid name: use a letter, "
                "then letters, digits or _"
            )
        if spec.name in names:
            raise Unprocessable(f"parameter '{spec.name}' is declared twice")
        names.add(spec.name)
        if spec.type not in PARAM_TYPES:
            raise Unprocessable(
                f"parameter '{spec.name}' has unknown type '{spec.type}' "
                f"(use one of: {', '.join(PARAM_TYPES)})"
            )
        if spec.default is not None:
            if spec.required:
                raise Unprocessable(
                    f"parameter '{spec.name}' is required, so it cannot have a default"
                )
            try:
                coerce_value(spec.default, spec.type, name=f"default of parameter '{spec.name}'")
            except BadRequest as error:
                raise Unprocessable(error.detail) from None
    for name in used:
        if name not in names:
            raise Unprocessable(f"the SQL uses parameter :{name}, which is not declared")
    for name in sorted(names - set(used)):
        raise Unprocessable(f"parameter '{name}' is declared but the SQL never uses :{name}")


def bind_params(*, declared: Sequence[ParamSpec], supplied: Mapping[str, Any]) -> dict[str, Any]:
    """A typed value for every declared parameter: supplied, else default, else NULL (or 400)."""
    known = {spec.name for spec in declared}
    for name in supplied:
        if name not in known:
            raise BadRequest(f"unknown parameter '{name}'")
    values: dict[str, Any] = {}
    for spec in declared:
        value = supplied.get(spec.name)
        if value is None:
            if spec.required:
                raise BadRequest(f"parameter '{spec.name}' is required")
            value = spec.default
        label = f"parameter '{spec.name}'"
        values[spec.name] = None if value is None else coerce_value(value, spec.type, name=label)
    return values
