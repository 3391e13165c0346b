"""Saved APIs: a named, validated SELECT on a connection, with its columns and keys."""
