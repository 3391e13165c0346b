"""Users of a service: sign-in, refresh, creating and listing users, the first admin.

Both services keep users the same way, each in a ``users`` table of its own (same columns,
its own migration) with a role set of its own. The feature lives here once, in the usual
files: ``table.py`` (``users_table``, the columns), ``schemas.py`` (bodies, generic over
the role set), ``repository.py`` (SQL on the table it is given), ``service.py`` (logic)
and ``router.py`` (``users_router``, built by each service with its table, roles and
dependencies). Tokens that are not users' (APISmith's
service tokens, SyncFlow's operator tokens) stay with their service.
"""
