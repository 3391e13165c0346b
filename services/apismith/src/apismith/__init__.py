"""APISmith: governed, read-only REST APIs over ERP databases, defined as SQL SELECTs."""

__version__ = "0.1.0"
