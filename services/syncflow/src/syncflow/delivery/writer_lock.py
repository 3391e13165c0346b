"""The per-entity outbox writer lock.

Event ids come from an identity column. A writer takes its entity's transaction lock
before it adds events, so within an entity ids are handed out in commit order: a reader
that has seen id N never later finds a committed event of that entity below N
(:mod:`syncflow.delivery.repository`).
"""

import asyncpg

# the seed of the lock's key (hashtextextended of the entity name)
_ENTITY_LOCK_SEED = 0x0B0C


async def lock_entity(driver: asyncpg.Connection, entity: str) -> None:
    """Hold the entity's outbox writer lock until the transaction ends."""
    await driver.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))", entity, _ENTITY_LOCK_SEED
    )
