"""Every SyncFlow bookkeeping table (SQLAlchemy Core), on the one MetaData Alembic reads.

Target tables (one per entity) are not here: they are created and migrated at
run time from each entity's definition (``syncflow.targets``).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY

from bridge_core.auth.users.table import users_table
from bridge_core.db.naming import Json, new_metadata, timestamps

metadata = new_metadata()

users = users_table(metadata)

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    *timestamps(),
)

sources = Table(
    "sources",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False, unique=True),
    Column("base_url", Text, nullable=False),
    Column("token_encrypted", LargeBinary, nullable=False),
    *timestamps(),
)

entities = Table(
    "entities",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False, unique=True),
    Column("source_uid", Uuid, ForeignKey("sources.uid", ondelete="RESTRICT"), nullable=False),
    Column("api_slug", String(150), nullable=False),
    Column("definition", Json, nullable=False),
    Column("api_columns", Json, nullable=False),
    *timestamps(),
)

entity_state = Table(
    "entity_state",
    metadata,
    Column("entity_name", String(150), primary_key=True),
    Column("cursor", Json, nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("last_batch_uid", Uuid, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

sync_batches = Table(
    "sync_batches",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("entity_name", String(150), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False),
    Column("counters", Json, nullable=False),
    Column("stage_seconds", Json, nullable=False),
    Column("warnings", Json, nullable=False),
    Column("progress", Json, nullable=False),
    Column("cursor_start", Json, nullable=True),
    Column("cursor_end", Json, nullable=True),
    Column("checkpoint", Json, nullable=True),
    Column("error", Text, nullable=True),
    Column("schedule_uid", Uuid, nullable=True),
    # how a scheduled batch runs: {timezone, window_start, window_end, days_to_complete}
    # (copied from its schedule when queued), or {due_only} for a retry batch
    Column("options", Json, nullable=True),
    # a paused batch (window closed, daily portion done) is not claimed before this
    Column("not_before", DateTime(timezone=True), nullable=True),
    # the end of the window it runs in: it pauses at the first chunk boundary after it
    Column("stop_at", DateTime(timezone=True), nullable=True),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_sync_batches_entity_created", "entity_name", "created_at"),
    Index("ix_sync_batches_status", "status"),
    # at most one pending-or-running batch per entity, enforced by the database
    Index(
        "uq_sync_batches_active_entity",
        "entity_name",
        unique=True,
        postgresql_where="status IN ('pending', 'running')",
    ),
)

failed_records = Table(
    "failed_records",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("entity_name", String(150), nullable=False),
    Column("batch_uid", Uuid, nullable=False),
    Column("stage", String(30), nullable=False),
    Column("error", Text, nullable=False),
    Column("raw_data", Json, nullable=False),
    Column("key_hash", String(32), nullable=True),
    # rows that fail in one batch with the same key hash (a business key of NULLs, say)
    # are told apart by their order among that key's failures in the batch
    Column("ordinal", Integer, nullable=False, default=0),
    Column("retry_count", Integer, nullable=False, default=0),
    Column("next_retry_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    # an operator who gives up on a record closes it (resolved_at) and says so here
    Column("dismissed_at", DateTime(timezone=True), nullable=True),
    Column("dismissed_by", String(150), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_failed_records_entity_batch", "entity_name", "batch_uid"),
    # one open failure per row: a row that fails again updates its record
    Index(
        "uq_failed_records_open_key",
        "entity_name",
        "key_hash",
        "ordinal",
        unique=True,
        postgresql_where="resolved_at IS NULL AND key_hash IS NOT NULL",
    ),
)

pending_children = Table(
    "pending_children",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("entity_name", String(150), nullable=False),
    Column("batch_uid", Uuid, nullable=False),
    Column("key_hash", String(32), nullable=False),
    Column("parent_entity", String(150), nullable=False),
    Column("parent_key_hash", String(32), nullable=False),
    Column("parent_key", Json, nullable=False),
    Column("row_data", Json, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_retry_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("uq_pending_children_entity_key", "entity_name", "key_hash", unique=True),
    Index("ix_pending_children_parent", "parent_entity", "parent_key_hash"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("entity_name", String(150), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("interval_seconds", BigInteger, nullable=True),
    Column("cron", String(120), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("window_start", String(5), nullable=True),
    Column("window_end", String(5), nullable=True),
    Column("days_to_complete", Integer, nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("next_run_at", DateTime(timezone=True), nullable=True),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_batch_uid", Uuid, nullable=True),
    *timestamps(),
    Index("ix_schedules_entity", "entity_name"),
    Index("ix_schedules_next_run", "next_run_at", postgresql_where="is_active"),
)

# where changed rows are delivered (ScheduleHub's batch API or a signed webhook);
# ``credentials_encrypted`` holds the password, token and webhook secrets as one
# encrypted JSON document, never returned by the API
destinations = Table(
    "destinations",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("api_prefix", String(200), nullable=False),
    # entity names delivered; empty means every entity
    Column("entities", Json, nullable=False),
    # per entity: the path under the API prefix (default: the entity name)
    Column("entity_paths", Json, nullable=False),
    Column("username", String(200), nullable=True),
    Column("credentials_encrypted", LargeBinary, nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("timeout_s", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("paused_at", DateTime(timezone=True), nullable=True),
    Column("pause_reason", Text, nullable=True),
    *timestamps(),
)

# delivery of outbox events (in the target database) to destinations. A stream is one
# destination's delivery of one entity: its lease (any worker delivers, one at a time per
# stream) and how far the outbox has been read into ``deliveries``
delivery_streams = Table(
    "delivery_streams",
    metadata,
    Column(
        "destination_uid",
        Uuid,
        ForeignKey("destinations.uid", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("entity_name", String(150), primary_key=True),
    # the highest outbox event id copied into ``deliveries``
    Column("cursor", BigInteger, nullable=False, default=0),
    # when a worker should look at the stream again (now: it has work)
    Column("next_check_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_delivery_streams_next_check", "next_check_at"),
)

# one outbox event on its way to one destination: pending, delivering (a request is out),
# delivered or dead (dead-lettered with the reason); ``batch_uid`` groups the events sent
# together (it is the webhook-id) and stays the same on every retry
deliveries = Table(
    "deliveries",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column(
        "destination_uid",
        Uuid,
        ForeignKey("destinations.uid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("entity_name", String(150), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("key_hash", String(32), nullable=False),
    Column("bridge_uid", Uuid, nullable=False),
    Column("operation", String(10), nullable=False),
    Column("data_hash", String(64), nullable=False),
    Column("parent_key_hashes", Json, nullable=False),
    Column("state", String(12), nullable=False),
    Column("batch_uid", Uuid, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("event_created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("uq_deliveries_destination_event", "destination_uid", "event_id", unique=True),
    Index(
        "ix_deliveries_unbatched",
        "destination_uid",
        "entity_name",
        "event_id",
        postgresql_where="state = 'pending' AND batch_uid IS NULL",
    ),
    Index(
        "ix_deliveries_open_key",
        "destination_uid",
        "entity_name",
        "key_hash",
        postgresql_where="state <> 'delivered'",
    ),
    Index(
        "ix_deliveries_retry",
        "destination_uid",
        "entity_name",
        "event_id",
        postgresql_where="state = 'pending' AND batch_uid IS NOT NULL",
    ),
    Index("ix_deliveries_batch", "batch_uid"),
    Index("ix_deliveries_state", "destination_uid", "entity_name", "state"),
)

# every request made to deliver events: when, what, the answer (first KB) and how long
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column(
        "destination_uid",
        Uuid,
        ForeignKey("destinations.uid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("entity_name", String(150), nullable=False),
    Column("batch_uid", Uuid, nullable=False),
    Column("event_ids", ARRAY(BigInteger), nullable=False),
    Column("request", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("response", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Index("ix_delivery_attempts_event_ids", "event_ids", postgresql_using="gin"),
    Index("ix_delivery_attempts_attempted_at", "attempted_at"),
)
