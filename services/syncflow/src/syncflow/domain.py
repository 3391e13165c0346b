"""The data that flows through the pipeline, one way: fetch -> normalize -> validate -> map
-> identity -> delta -> resolve -> load -> track.

Stages never import each other; they share only these types. The orchestration layer
(``syncflow.orchestration``) is the one place that imports every stage; features import
these types too. This module imports nothing of SyncFlow's.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID


class FieldType(StrEnum):
    """Target column types of mapped fields."""

    TEXT = "text"
    INTEGER = "integer"
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"


# what an ``integer`` field holds: its target column is a PostgreSQL bigint
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1


# APISmith's column data types -> the field type a column gets when it is not mapped
API_TYPE_TO_FIELD_TYPE: dict[str, FieldType] = {
    "string": FieldType.TEXT,
    "integer": FieldType.INTEGER,
    "number": FieldType.NUMERIC,
    "boolean": FieldType.BOOLEAN,
    "date": FieldType.DATE,
    "timestamp": FieldType.TIMESTAMP,
    "time": FieldType.TEXT,
    "binary": FieldType.TEXT,
    "json": FieldType.TEXT,
}


class DeltaStrategy(StrEnum):
    FULL = "full"
    ROWVERSION = "rowversion"
    HASH = "hash"


class SyncMode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"


# the batch modes besides SyncMode's: re-run open failed records (operator or periodic
# job) and retry parked children whose retry is due (periodic job)
RETRY_MODE = "retry"
RESOLVE_MODE = "resolve"


class DeleteMode(StrEnum):
    SOFT = "soft"
    HARD = "hard"
    IGNORE = "ignore"


class Stage(StrEnum):
    """Where a row failed (``failed_records.stage``) or where time was spent."""

    FETCH = "fetch"
    NORMALIZE = "normalize"
    VALIDATE = "validate"
    MAP = "map"
    IDENTITY = "identity"
    DELTA = "delta"
    RESOLVE = "resolve"
    LOAD = "load"
    TRACK = "track"


@dataclass(frozen=True)
class ApiColumn:
    """An output column of the APISmith API, as discovered."""

    name: str
    data_type: str
    nullable: bool = True


def api_columns(raw: Any) -> tuple[ApiColumn, ...]:
    """APISmith's ``columns`` metadata (``[{name, data_type, nullable}]``) as ``ApiColumn``s."""
    if not isinstance(raw, list):
        return ()
    return tuple(
        ApiColumn(
            name=str(column["name"]),
            data_type=str(column.get("data_type") or "string"),
            nullable=bool(column.get("nullable", True)),
        )
        for column in raw
        if isinstance(column, dict) and "name" in column
    )


@dataclass(frozen=True)
class FieldSpec:
    """One mapped field: source (API) field -> target column.

    ``transform`` is ``None``, a name (``"trim"``, ``"upper"``, ``"lower"``) or a
    value map ``{"map": {"A": "Active", ...}, "default": ...}``.
    """

    source_field: str
    target_field: str
    type: FieldType
    transform: str | dict[str, Any] | None = None
    default_value: Any = None
    required: bool = False


@dataclass(frozen=True)
class ParentRef:
    """A child's source ``fields`` hold its parent's business keys ``parent_fields``, in order."""

    parent_entity: str
    fields: tuple[str, ...]
    parent_fields: tuple[str, ...]


@dataclass(frozen=True)
class DeletePolicy:
    mode: DeleteMode = DeleteMode.SOFT
    max_ratio: float = 0.05


@dataclass(frozen=True)
class NormalizationOptions:
    """How source text that could be read two ways is read (docs/normalization.md).

    ``slash_day_first``: ``03/04/2025`` is 3 April (default: March 4, US order).
    ``decimal_comma``: ``1.234`` is 1234 and ``12,5`` is 12.5 (default: ``,`` groups
    thousands and ``.`` is the decimal point). Text holding both marks is unambiguous
    and read the same either way.
    """

    slash_day_first: bool = False
    decimal_comma: bool = False


@dataclass(frozen=True)
class EntitySpec:
    """Everything the pipeline needs to know about one entity, defaults resolved."""

    name: str
    source_name: str
    api_slug: str
    api_columns: tuple[ApiColumn, ...]
    business_keys: tuple[str, ...]
    rowversion_field: str | None
    delta_strategy: DeltaStrategy
    target_schema: str
    target_table: str
    page_size: int
    fields: tuple[FieldSpec, ...]
    parent_refs: tuple[ParentRef, ...] = ()
    delete_policy: DeletePolicy = DeletePolicy()
    source_timezone: str = "UTC"
    normalization: NormalizationOptions = NormalizationOptions()
    # incremental reads start this far below the committed cursor (late commits)
    rowversion_lookback: float = 0.0

    def api_type(self, source_field: str) -> str:
        """APISmith's data type of a source field (``"string"`` when unknown)."""
        for column in self.api_columns:
            if column.name == source_field:
                return column.data_type
        return "string"

    def source_fields(self) -> tuple[str, ...]:
        """The source fields the entity uses (business keys, rowversion, mapped fields,
        parent ref fields), in API column order, then any the API does not list."""
        used = {*self.business_keys, *(f.source_field for f in self.fields)}
        if self.rowversion_field is not None:
            used.add(self.rowversion_field)
        for ref in self.parent_refs:
            used.update(ref.fields)
        listed = [column.name for column in self.api_columns if column.name in used]
        return (*listed, *sorted(used.difference(listed)))

    def value_type(self, source_field: str) -> FieldType:
        """The type of a source field's normalized values.

        Its API type's field type, except that a ``string`` API column whose every
        mapping asks for one other type (and has no value map) is read as that type:
        ERPs keep numbers and dates in text columns. Business keys and parent ref
        fields keep their API type, so identity never depends on the mappings.
        """
        api_type = self.api_type(source_field)
        own = API_TYPE_TO_FIELD_TYPE.get(api_type, FieldType.TEXT)
        if api_type != "string" or source_field in self.business_keys:
            return own
        if any(source_field in ref.fields for ref in self.parent_refs):
            return own
        mapped = [f for f in self.fields if f.source_field == source_field]
        wanted = {f.type for f in mapped}
        if len(wanted) != 1 or any(isinstance(f.transform, dict) for f in mapped):
            return own
        return wanted.pop()


@dataclass(slots=True)
class Record:
    """One row on its way through the stages.

    ``raw`` is kept as fetched (it goes to ``failed_records`` if the row fails);
    ``values`` are normalized source values (by source field) and ``rowversion`` the
    normalized rowversion value, both set by normalize; ``target`` the mapped values
    (by target field); hashes are set by identity.
    """

    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    rowversion: Any = None
    key_hash: str = ""
    data_hash: str = ""
    parent_uids: dict[str, UUID] = field(default_factory=dict)
    # parent entity -> that parent's key hash, for refs not entirely NULL (set by identity)
    parent_key_hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowFailure:
    """A row that could not go on, with the stage and a message a person can act on."""

    stage: Stage
    error: str
    raw: dict[str, Any]
    key_hash: str | None = None


@dataclass(slots=True)
class StageResult:
    """What a row stage hands on: the records that go on (in input order) and the rows
    that stopped at this stage."""

    records: list[Record]
    failures: list[RowFailure]


COUNTER_NAMES = (
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "failed",
    "duplicate",
    "pending",
    "deleted",
    "resolved",
)


@dataclass(slots=True)
class Counters:
    """A batch's row counts. ``fetched = inserted + updated + unchanged + failed + duplicate
    + pending``; ``deleted`` and ``resolved`` are counted apart."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    duplicate: int = 0
    pending: int = 0
    deleted: int = 0
    resolved: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTER_NAMES}

    @classmethod
    def from_dict(cls, data: dict[str, int] | None) -> "Counters":
        data = data or {}
        return cls(**{name: int(data.get(name, 0)) for name in COUNTER_NAMES})

    def add(self, other: "Counters") -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def balanced(self) -> bool:
        """Whether every fetched row is accounted for exactly once."""
        return self.fetched == (
            self.inserted
            + self.updated
            + self.unchanged
            + self.failed
            + self.duplicate
            + self.pending
        )


# Backoff of automatic retries: a parked child waits 30 s, 1 min, 2 min, ... (at most an
# hour) for its parent; a failed record 1, 2, 4, ... minutes (at most six hours).
PARKED_RETRY_BASE = timedelta(seconds=30)
PARKED_RETRY_CAP = timedelta(hours=1)
FAILED_RETRY_BASE = timedelta(minutes=1)
FAILED_RETRY_CAP = timedelta(hours=6)
# 2**20 * 30 s is far past any sensible cap; no need to build larger numbers
_MAX_DOUBLINGS = 20


def next_retry_delay(
    attempts: int, *, base: timedelta = PARKED_RETRY_BASE, cap: timedelta = PARKED_RETRY_CAP
) -> timedelta:
    """How long the next automatic retry waits: ``base`` doubled for each earlier
    attempt, at most ``cap`` (the defaults are a parked child's)."""
    return min(base * (1 << min(max(attempts, 0), _MAX_DOUBLINGS)), cap)


# Every target table ends in these bookkeeping columns (in this order), after the mapped
# fields and one ``<parent>_uid`` column per parent ref; no mapped field may take the prefix.
BRIDGE_PREFIX = "_bridge_"
BRIDGE_COLUMN_NAMES = (
    "_bridge_uid",
    "_bridge_key_hash",
    "_bridge_data_hash",
    "_bridge_rowversion",
    "_bridge_ref",
    "_bridge_batch_uid",
    "_bridge_created_at",
    "_bridge_updated_at",
    "_bridge_deleted_at",
)


def parent_column(parent_entity: str) -> str:
    """The target column that holds a parent row's ``_bridge_uid``."""
    return f"{parent_entity}_uid"
