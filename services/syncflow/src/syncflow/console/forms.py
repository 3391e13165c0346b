"""The console's edit forms: what a form shows (``*_values``: every field as text, from a
stored object or from a submitted form, so a refused form comes back as it was typed)
and the API body a submitted form stands for (``*_body``; pydantic refuses what is wrong).

Repeated rows (field mappings, parent refs) are numbered fields
(``mappings-0-source_field``); a row whose first field is empty is left out, so a form
carries a few blank rows to add new ones.
"""

from typing import Any

import orjson
from starlette.datastructures import FormData

from bridge_core.console.forms import form_text, form_words
from syncflow.destinations.schemas import (
    SETTING_FIELDS,
    DestinationCreate,
    DestinationOut,
    DestinationUpdate,
)
from syncflow.entities.schemas import EntityBody, EntityCreate, EntityOut
from syncflow.schedules.schemas import ScheduleBody, ScheduleOut

BLANK_MAPPINGS = 3


BLANK_PARENTS = 1
MAPPING_FIELDS = ("source_field", "target_field", "type", "transform", "default_value", "required")
PARENT_FIELDS = ("parent_entity", "fields", "parent_fields")


def _rows(form: FormData, prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    index = 0
    while f"{prefix}-{index}-{fields[0]}" in form:
        row = {name: form_text(form, f"{prefix}-{index}-{name}") for name in fields}
        if row[fields[0]]:
            rows.append(row)
        index += 1
    return rows


def _json_or_text(value: str) -> Any:
    """A transform or default as typed: JSON when it parses (a map, a number), else text."""
    if not value:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# --- entities ----------------------------------------------------------------------------


def entity_values(entity: EntityOut | None = None, **preset: str) -> dict[str, Any]:
    """The entity form's fields: an entity's, or empty ones (``preset`` fills some)."""
    if entity is None:
        values: dict[str, Any] = dict.fromkeys(
            ("name", "source", "api_slug", "business_keys", "rowversion_field"), ""
        )
        values.update(delta_strategy="", target_schema="", target_table="", page_size="")
        values.update(mappings=[], parents=[], **preset)
        return values
    return {
        "name": entity.name,
        "source": entity.source,
        "api_slug": entity.api_slug,
        "business_keys": ", ".join(entity.business_keys),
        "rowversion_field": entity.rowversion_field or "",
        "delta_strategy": entity.delta_strategy.value,
        "target_schema": entity.target_schema,
        "target_table": entity.target_table,
        "page_size": str(entity.page_size),
        "mappings": [
            {
                "source_field": f.source_field,
                "target_field": f.target_field,
                "type": f.type.value,
                "transform": _as_text(f.transform),
                "default_value": _as_text(f.default_value),
                "required": "true" if f.required else "",
            }
            for f in entity.field_mappings
        ],
        "parents": [
            {
                "parent_entity": p.parent_entity,
                "fields": ", ".join(p.fields),
                "parent_fields": ", ".join(p.parent_fields),
            }
            for p in entity.parent_refs
        ],
    }


def entity_form_values(form: FormData) -> dict[str, Any]:
    """The entity form as submitted."""
    values: dict[str, Any] = {
        key: form_text(form, key)
        for key in (
            "name",
            "source",
            "api_slug",
            "business_keys",
            "rowversion_field",
            "delta_strategy",
            "target_schema",
            "target_table",
            "page_size",
        )
    }
    values["mappings"] = _rows(form, "mappings", MAPPING_FIELDS)
    values["parents"] = _rows(form, "parents", PARENT_FIELDS)
    return values


def _entity(values: dict[str, Any]) -> dict[str, Any]:
    """The entity form as the API's body; empty fields take the API's defaults."""
    return {
        "name": values["name"] or None,
        "source": values["source"],
        "api_slug": values["api_slug"],
        "business_keys": form_words(values["business_keys"]) or None,
        "rowversion_field": values["rowversion_field"] or None,
        "delta_strategy": values["delta_strategy"] or None,
        "target_schema": values["target_schema"] or None,
        "target_table": values["target_table"] or None,
        "page_size": values["page_size"] or None,
        "field_mappings": [
            {
                "source_field": row["source_field"],
                "target_field": row["target_field"] or None,
                "type": row["type"] or None,
                "transform": _json_or_text(row["transform"]),
                "default_value": _json_or_text(row["default_value"]),
                "required": bool(row["required"]),
            }
            for row in values["mappings"]
        ]
        or None,
        "parent_refs": [
            {
                "parent_entity": row["parent_entity"],
                "fields": form_words(row["fields"]),
                "parent_fields": form_words(row["parent_fields"]) or None,
            }
            for row in values["parents"]
        ],
    }


def entity_create(values: dict[str, Any]) -> EntityCreate:
    return EntityCreate.model_validate(_entity(values))


def entity_update(values: dict[str, Any]) -> EntityBody:
    return EntityBody.model_validate(_entity(values))


# --- schedules ---------------------------------------------------------------------------

SCHEDULE_FIELDS = (
    "entity",
    "mode",
    "interval_seconds",
    "cron",
    "timezone",
    "window_start",
    "window_end",
    "days_to_complete",
)


def schedule_values(schedule: ScheduleOut | None = None, **preset: str) -> dict[str, str]:
    """The schedule form's fields: a schedule's, or the defaults (active, UTC)."""
    if schedule is None:
        values = dict.fromkeys(SCHEDULE_FIELDS, "")
        values.update(mode="incremental", timezone="UTC", is_active="true", **preset)
        return values
    return {
        "entity": schedule.entity,
        "mode": schedule.mode,
        "interval_seconds": str(schedule.interval_seconds or ""),
        "cron": schedule.cron or "",
        "timezone": schedule.timezone,
        "window_start": schedule.window_start or "",
        "window_end": schedule.window_end or "",
        "days_to_complete": str(schedule.days_to_complete or ""),
        "is_active": "true" if schedule.is_active else "",
    }


def schedule_form_values(form: FormData) -> dict[str, str]:
    return {key: form_text(form, key) for key in (*SCHEDULE_FIELDS, "is_active")}


def schedule_body(values: dict[str, str]) -> ScheduleBody:
    """The schedule form as the API's body (an empty field is left out)."""
    body: dict[str, Any] = {key: values[key] or None for key in SCHEDULE_FIELDS}
    body["timezone"] = values["timezone"] or "UTC"
    body["is_active"] = bool(values["is_active"])
    return ScheduleBody.model_validate(body)


# --- destinations ------------------------------------------------------------------------

DESTINATION_FIELDS = ("name", *SETTING_FIELDS)
SECRET_FIELDS = ("password", "token", "secrets")


def destination_values(destination: DestinationOut | None = None) -> dict[str, str]:
    """The destination form's fields; secrets are never filled in (only said to be set)."""
    if destination is None:
        values = dict.fromkeys(DESTINATION_FIELDS, "")
        values.update(kind="schedulehub", api_prefix="/api/v1", batch_size="500")
        values.update(timeout_s="30", enabled="true")
        return values
    return {
        "name": destination.name,
        "kind": destination.kind,
        "url": destination.url,
        "entities": ", ".join(destination.entities),
        "api_prefix": destination.api_prefix,
        "entity_paths": "\n".join(f"{e}={p}" for e, p in destination.entity_paths.items()),
        "username": destination.username or "",
        "batch_size": str(destination.batch_size),
        "timeout_s": str(destination.timeout_s),
        "enabled": "true" if destination.enabled else "",
    }


def destination_form_values(form: FormData) -> dict[str, str]:
    """The destination form as submitted, without its secrets (never shown again)."""
    return {key: form_text(form, key) for key in (*DESTINATION_FIELDS, "enabled")}


def _paths(text: str) -> dict[str, str]:
    """``entity=path`` lines."""
    paths = {}
    for line in text.splitlines():
        entity, _, path = line.partition("=")
        if entity.strip():
            paths[entity.strip()] = path.strip()
    return paths


def _secrets(form: FormData) -> dict[str, Any]:
    """The secret fields that were typed in (an empty one keeps the stored value)."""
    given: dict[str, Any] = {}
    for key in ("password", "token"):
        if form_text(form, key):
            given[key] = form_text(form, key)
    secrets = [line.strip() for line in form_text(form, "secrets").splitlines() if line.strip()]
    if secrets:
        given["secrets"] = secrets
    return given


def destination_create(values: dict[str, str], form: FormData) -> DestinationCreate:
    body: dict[str, Any] = {
        "name": values["name"],
        "kind": values["kind"],
        "url": values["url"],
        "entities": form_words(values["entities"]),
        "api_prefix": values["api_prefix"],
        "entity_paths": _paths(values["entity_paths"]),
        "username": values["username"] or None,
        "batch_size": values["batch_size"] or 500,
        "timeout_s": values["timeout_s"] or 30,
        "enabled": bool(values["enabled"]),
        **_secrets(form),
    }
    return DestinationCreate.model_validate(body)


def destination_update(values: dict[str, str], form: FormData) -> DestinationUpdate:
    body: dict[str, Any] = {
        "url": values["url"],
        "entities": form_words(values["entities"]),
        "api_prefix": values["api_prefix"],
        "entity_paths": _paths(values["entity_paths"]),
        "username": values["username"] or None,
        "enabled": bool(values["enabled"]),
        **_secrets(form),
    }
    # an emptied number keeps the stored one
    body.update((key, values[key]) for key in ("batch_size", "timeout_s") if values[key])
    return DestinationUpdate.model_validate(body)
