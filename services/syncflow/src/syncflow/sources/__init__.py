"""Sources: the APISmith instances SyncFlow reads from, with their (encrypted) tokens.

The runner gets a ready client with :func:`syncflow.sources.service.client_for`.
"""
