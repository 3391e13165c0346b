"""Request and response bodies of ScheduleHub's API, its webhooks and the control API."""

from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator


class Login(BaseModel):
    username: str
    password: str


class Refresh(BaseModel):
    refresh_token: str


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: float = Field(description="seconds the access token is valid")


class Query(BaseModel):
    erp_key_hashes: list[str]


class QueryResult(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="the live records held for those keys: mapped fields, uid, erp_* fields"
    )


class Insert(BaseModel):
    records: list[dict[str, Any]]


class UpdateItem(BaseModel):
    uid: str
    data: dict[str, Any] = Field(description="the whole record, as for an insert")


class Update(BaseModel):
    updates: list[UpdateItem]


class Delete(BaseModel):
    uids: list[str]


class Failure(BaseModel):
    record: dict[str, Any] = Field(description="the record, update or {uid} that failed")
    error: str


class BatchResult(BaseModel):
    success_count: int
    failure_count: int
    failures: list[Failure]


# --- webhooks ------------------------------------------------------------------------


class WebhookEvent(BaseModel):
    """One change (the shape of SyncFlow's change feed; unknown fields are ignored)."""

    op: Literal["upsert", "delete"]
    key_hash: str
    data_hash: str | None = None
    rowversion: str | int | float | None = None
    ref_str: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    parent_key_hashes: dict[str, str | None] = Field(default_factory=dict)


class WebhookData(BaseModel):
    events: list[WebhookEvent]


class WebhookPayload(BaseModel):
    """Standard Webhooks' envelope: ``type``, ``timestamp``, ``data``."""

    type: str
    timestamp: str | None = None
    data: WebhookData


class WebhookReceipt(BaseModel):
    webhook_id: str
    duplicate: bool = Field(description="this webhook-id was applied before; nothing was done")
    applied: int


# --- control -------------------------------------------------------------------------


class FaultPlan(BaseModel):
    """Faults to inject, as shares of the requests that can fail (all but health and control).

    One die is rolled per request (seeded), so the kinds never overlap and the shares
    are exact over many requests; their sum is at most 1.
    """

    error_rate: float = Field(default=0, ge=0, le=1, description="answered error_status, unapplied")
    error_status: int = Field(default=503, ge=500, le=599)
    throttle_rate: float = Field(default=0, ge=0, le=1, description="429 with Retry-After")
    retry_after_seconds: int = Field(default=1, ge=0)
    timeout_rate: float = Field(
        default=0, ge=0, le=1, description="applied, then no answer until the client gives up"
    )
    timeout_seconds: float = Field(
        default=35, gt=0, description="the longest a timed-out answer is held back"
    )
    slow_rate: float = Field(default=0, ge=0, le=1, description="answered after slow_seconds")
    slow_seconds: float = Field(default=1, ge=0)
    drop_rate: float = Field(
        default=0, ge=0, le=1, description="applied, then the connection drops mid-answer"
    )
    expire_token_rate: float = Field(
        default=0, ge=0, le=1, description="the bearer token expires now: 401, refresh needed"
    )
    gone: bool = Field(default=False, description="every request answered 410 Gone")
    seed: int | None = Field(default=None, description="seed of the dice (default: the setting)")

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        total = (
            self.error_rate
            + self.throttle_rate
            + self.timeout_rate
            + self.slow_rate
            + self.drop_rate
            + self.expire_token_rate
        )
        if total > 1:
            raise ValueError(f"the fault rates add up to {total:g}, more than 1")
        return self


class Rule(BaseModel):
    """Reject a record whose ``field`` equals ``equals`` or matches the regex ``pattern``."""

    entity: str | None = Field(default=None, description="only this entity (default: every one)")
    field: str
    equals: Any = None
    pattern: str | None = None
    error: str | None = Field(default=None, description="the failure's error text")

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        if (self.equals is None) == (self.pattern is None):
            raise ValueError("a rule needs exactly one of equals and pattern")
        return self


class Rules(BaseModel):
    rules: list[Rule] = Field(default_factory=list)
    require_parents: bool = Field(
        default=False, description="reject a record whose parent_refs name a key not held live"
    )


class TokenControl(BaseModel):
    access_token_seconds: float | None = Field(default=None, gt=0, description="new lifetime")
    expire_all: bool = Field(default=False, description="expire every access token issued")


class WebhookSecrets(BaseModel):
    secrets: list[str] = Field(description="'whsec_' + base64; any one of them verifies")
