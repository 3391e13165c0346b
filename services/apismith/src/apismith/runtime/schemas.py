"""Request and response bodies of the runtime endpoints.

Operators and directions are plain strings here, not enums: an unknown one is a 400
that names it (from the SQL layer), not a generic validation error. Unknown keys are a
422 naming them: a misspelt ``filters`` must not quietly return every row.
"""

from typing import Any

from pydantic import BaseModel, Field

from apismith.apis.schemas import ColumnOut
from bridge_core.schemas import RequestModel


class FilterIn(RequestModel):
    field: str
    operator: str = Field(description="eq ne gt gte lt lte in not_in like is_null not_null between")
    value: Any = Field(
        default=None,
        description="a JSON scalar; a list for in/not_in, [low, high] for between, "
        "nothing for is_null/not_null",
    )


class SortIn(RequestModel):
    field: str
    direction: str = Field(default="asc", description="asc or desc")


class StreamRequest(RequestModel):
    params: dict[str, Any] = Field(default_factory=dict)
    filters: list[FilterIn] = Field(default_factory=list)
    sort: list[SortIn] = Field(
        default_factory=list,
        description="default: the rowversion column, then the business keys",
    )


class ExecuteRequest(StreamRequest):
    page_size: int | None = Field(
        default=None, description="rows per page [default: APISMITH_DEFAULT_PAGE_SIZE]"
    )
    cursor: str | None = Field(
        default=None, description="next_cursor of the previous page, with the same body"
    )
    include_total: bool = Field(
        default=False, description="also count the filtered rows (one more query)"
    )


class ExecuteMetadata(BaseModel):
    columns: list[ColumnOut]
    row_count: int
    page_size: int
    next_cursor: str | None = Field(description="null on the last page")
    total_rows: int | None = Field(description="null unless include_total")
    execution_time_ms: float


class ExecuteResponse(BaseModel):
    data: list[dict[str, Any]]
    metadata: ExecuteMetadata
