"""ERP database connections: stored with the URL encrypted, shown with it masked.

Other features read a stored connection with
``service.get_connection_record(conn=..., uid=...)`` and run queries on it through
``apismith.drivers.registry.DriverRegistry.get(record)``.
"""
