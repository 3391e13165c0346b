"""Target tables: one per entity, created and migrated in the target database.

The table is derived from the entity's :class:`~syncflow.domain.EntitySpec`
(:mod:`syncflow.targets.shape`); creating or changing an entity calls
:func:`syncflow.targets.service.ensure_table`.
"""
