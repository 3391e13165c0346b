"""Entities: what to sync from which APISmith API into which target table, and how.

The runner reads an entity as an :class:`~syncflow.domain.EntitySpec` with
:func:`syncflow.entities.service.load_spec`.
"""
