"""``bridge-demo``: both services on a generated IFS-like ERP, synced twice, summarised.

Its own workspace member: the one package that imports both APISmith and SyncFlow.

``erp_rows`` makes the sample data (pure), ``erp`` writes it and the later changes,
``catalog`` holds the demo's APIs and entities, ``apismith_admin`` and
``syncflow_operator`` register them over HTTP, ``servers`` runs both apps in this
process, ``plan`` decides which databases and secrets the demo uses, ``flows`` runs the
steps, ``report`` draws the tables, and ``command`` is what ``bridge-demo`` runs.
"""
