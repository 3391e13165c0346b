"""The verify report."""

from pydantic import BaseModel


class VerifyReport(BaseModel):
    entity: str
    equal: bool
    source_rows: int
    target_rows: int
    missing: int
    extra: int
    different: int
    sample_missing: list[str]
    sample_extra: list[str]
    sample_different: list[str]
