"""What a batch needs before its first chunk: its entity, the entities around it, the
APISmith client, and the checkpoint of a batch that has not started yet."""

from dataclasses import dataclass

from syncflow.apismith_client import ApiSmithClient
from syncflow.delivery.repository import OutboxRepository
from syncflow.destinations.repository import DestinationRepository
from syncflow.domain import DeltaStrategy, EntitySpec, SyncMode
from syncflow.entities.service import child_specs, load_spec
from syncflow.orchestration.session import BatchSession
from syncflow.orchestration.state import BatchState, RunContext
from syncflow.pipeline import delta, fetch
from syncflow.pipeline.key_index import KeyIndexRepository
from syncflow.pipeline.load import TargetRepository
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.pipeline.track import TrackingRepository
from syncflow.sources.service import client_for
from syncflow.sync.repository import BatchRepository
from syncflow.targets.service import require_current_hashes


@dataclass
class EntityPlan:
    """The batch's entity as the chunks use it."""

    spec: EntitySpec
    # the specs of the entity's parents, by entity name
    parents: dict[str, EntitySpec]
    client: ApiSmithClient
    pipeline: EntityPipeline
    # parent entity -> pipelines of its child entities (grandchildren are added lazily)
    children: dict[str, list[EntityPipeline]]
    detect_deletes: bool
    # changes of every entity go to the outbox, or of these (a destination names them)
    outbox_all: bool
    outbox_entities: frozenset[str]

    def records_changes_of(self, entity: str) -> bool:
        """Whether ``entity``'s changes go to the outbox (a destination delivers them)."""
        return self.outbox_all or entity in self.outbox_entities


async def plan_batch(state: BatchState, ctx: RunContext, session: BatchSession) -> EntityPlan:
    """Load the entity and, for a batch that has not started, write its first checkpoint
    (where to read from, and whether the target was empty: then no lookups)."""
    tz = ctx.settings.source_timezone
    async with ctx.database.transaction() as conn:
        spec = await load_spec(conn, state.entity, source_timezone=tz)
        parents = {
            ref.parent_entity: await load_spec(conn, ref.parent_entity, source_timezone=tz)
            for ref in spec.parent_refs
        }
        children = await child_specs(conn, state.entity, source_timezone=tz)
        client = await client_for(conn, ctx.settings, spec.source_name)
        outbox_all, outbox_entities = await DestinationRepository(conn).delivered_entities()
        if not state.checkpoint:
            committed = await TrackingRepository(conn).committed_cursor(state.entity)
            incremental = (
                spec.delta_strategy is DeltaStrategy.ROWVERSION
                and state.mode == SyncMode.INCREMENTAL
            )
            from_rowversion = (
                fetch.below_cursor(committed, spec.rowversion_lookback) if incremental else None
            )
            async with ctx.target_database.transaction() as target:
                await require_current_hashes(target, spec=spec)
                fresh = state.mode in tuple(SyncMode) and await TargetRepository(
                    target
                ).target_is_empty(spec)
                # a first load builds the key index at its end (pipeline/key_index.py)
                deferred = (
                    fresh
                    and not state.dry_run
                    and await KeyIndexRepository(target).drop_if_empty(spec)
                )
            state.checkpoint = {
                "phase": "read",
                "page_cursor": None,
                "from_rowversion": from_rowversion,
                "cursor": committed,
                # the target held nothing when the batch began: no lookups (see chunk)
                "fresh_target": fresh,
            }
            if deferred:
                state.checkpoint["key_index"] = "deferred"
            await BatchRepository(conn).set_started(
                state.uid, cursor_start=from_rowversion, checkpoint=state.checkpoint
            )
    detect_deletes = state.mode in tuple(SyncMode) and delta.detects_deletes(
        spec.delta_strategy, SyncMode(state.mode)
    )
    if detect_deletes:
        async with session.transactions() as (conn, target):
            rows = TargetRepository(target)
            await rows.ensure_seen_table(state.uid)
            # the seen keys of batches that ended without dropping them (cancelled by an
            # operator while paused, their worker gone): they never resume
            for ended in await BatchRepository(conn).finished_among(await rows.seen_batches()):
                await rows.forget_seen(ended)
    if outbox_all or outbox_entities:
        async with ctx.target_database.transaction() as target:
            await OutboxRepository(target).ensure_table()
    return EntityPlan(
        spec=spec,
        parents=parents,
        client=client,
        pipeline=EntityPipeline(spec),
        children={state.entity: [EntityPipeline(child) for child in children]},
        detect_deletes=detect_deletes,
        outbox_all=outbox_all,
        outbox_entities=frozenset(outbox_entities),
    )


async def build_deferred_key_index(
    state: BatchState, session: BatchSession, spec: EntitySpec
) -> None:
    """End a first load: build the target's key index, merging keys read twice (each
    merged row counts ``duplicate`` instead of ``inserted``), with the checkpoint."""
    if state.checkpoint.get("key_index") != "deferred":
        return
    async with session.transactions() as (conn, target):
        merged = await KeyIndexRepository(target).ensure(spec)
        state.counters.inserted -= merged
        state.counters.duplicate += merged
        state.checkpoint["key_index"] = "built"
        await session.save(conn)
