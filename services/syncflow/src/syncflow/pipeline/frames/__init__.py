"""Pipeline stages over columnar pages (polars DataFrames built from Arrow)."""
