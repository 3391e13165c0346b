"""Test support: a pytest plugin with real PostgreSQL, and a live uvicorn server helper."""
