"""Query parameters every listing shares: bounded page numbers and sizes.

The bound on ``page`` keeps ``(page - 1) * page_size`` far inside a bigint, so an
absurd page is a 422 that names it, never an overflow in the database driver.
"""

from typing import Annotated

from fastapi import Query

MAX_PAGE = 1_000_000_000
MAX_PAGE_SIZE = 500

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
