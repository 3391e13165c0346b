"""SyncFlow settings (environment prefix ``SYNCFLOW_``, also read from ``.env``)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bridge_core.settings import DEFAULT_SECRET, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCFLOW_", env_file=".env", extra="ignore")

    port: int = 8008
    database_name: str = Field(
        default="syncflow", description="database name on the embedded server"
    )
    target_database_url: str | None = Field(
        default=None, description="ScheduleHub's PostgreSQL; unset means SyncFlow's own database"
    )
    encryption_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET), description="key that encrypts source tokens at rest"
    )
    admin_token: SecretStr | None = Field(
        default=None, description="a bearer token that is always valid (operator bootstrap)"
    )
    source_timezone: str = Field(default="UTC", description="timezone of naive source timestamps")
    chunk_rows: int = 5_000
    lease_seconds: int = 30
    heartbeat_seconds: int = 5
    max_retries: int = 5
    apismith_timeout_seconds: float = Field(
        default=30.0, gt=0, description="how long one call to APISmith may take before a retry"
    )
    pending_max_retries: int = 10
    history_retention_days: int = 90
    schedule_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often a worker looks for due schedules"
    )
    retry_poll_seconds: float = Field(
        default=30.0, gt=0, description="how often a worker looks for due retries"
    )
    prune_interval_seconds: float = Field(
        default=3600.0, gt=0, description="how often a worker prunes old history"
    )
    metrics_refresh_seconds: float = Field(
        default=15.0, gt=0, description="how often the database-backed gauges are refreshed"
    )
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often an idle delivery worker looks for events"
    )
    delivery_concurrency: int = Field(
        default=4, ge=1, le=64, description="delivery streams one worker delivers at once"
    )
    delivery_batches_in_flight: int = Field(
        default=4,
        ge=1,
        le=32,
        description="batches of one delivery stream out at once (their keys never overlap)",
    )
    known_rows_limit: int = Field(
        default=1_500_000,
        ge=0,
        description=(
            "a read of the whole source keeps up to this many target rows' key and data "
            "hash prefixes in memory (16 bytes a row) to call rows unchanged without a "
            "probe of the target per key; a larger target's other keys are probed "
            "(0: always probe)"
        ),
    )
    delivery_straight: bool = Field(
        default=True,
        description=(
            "send ScheduleHub streams' new events straight from the outbox, tracking in the "
            "ledger only what fails (off: every event is copied into the ledger first)"
        ),
    )
    delivery_during_sync: bool = Field(
        default=False,
        description="deliver an entity's events while a sync of it runs (default: after it)",
    )
    delivery_retry_base_seconds: float = Field(
        default=2.0, gt=0, description="first delivery retry delay (doubled per attempt, jittered)"
    )
    delivery_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="longest delay between two delivery attempts"
    )
    delivery_retry_horizon_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="how long failed deliveries are retried before they are dead-lettered",
    )
    delivery_retention_days: float = Field(
        default=7.0, gt=0, description="delivered events (and their outbox rows) kept this long"
    )
    worker_metrics_port: int | None = Field(
        default=None, description="serve this worker's /metrics on this port (unset: off)"
    )

    def secret_fields(self) -> dict[str, SecretStr]:
        return {"secret_key": self.secret_key, "encryption_key": self.encryption_key}
