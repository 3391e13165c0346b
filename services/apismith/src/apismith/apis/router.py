"""APIs endpoints: admins define and change APIs, readers list and read them."""

import uuid

from fastapi import APIRouter, Response, status

from apismith.apis import service
from apismith.apis.schemas import ApiIn, ApiOut, ApiPage, ApiVersionOut
from apismith.auth.dependencies import Admin, Reader
from apismith.catalog import catalog_write
from apismith.drivers.registry import Drivers
from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize

router = APIRouter(tags=["apis"])


@router.post("/apis", status_code=status.HTTP_201_CREATED, dependencies=[catalog_write])
async def create_api(body: ApiIn, principal: Admin, drivers: Drivers, conn: Connection) -> ApiOut:
    """Save a new API: the SQL is validated and its output columns discovered."""
    return await service.create_api(conn=conn, drivers=drivers, body=body, principal=principal)


@router.get("/apis")
async def list_apis(
    principal: Reader,
    conn: Connection,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> ApiPage:
    """Every API, by slug, one page at a time."""
    return await service.list_apis(conn=conn, page=page, page_size=page_size)


@router.get("/apis/slug/{slug}")
async def get_api_by_slug(slug: str, principal: Reader, conn: Connection) -> ApiOut:
    """One API by its slug."""
    return await service.get_api_by_slug(conn=conn, slug=slug)


@router.get("/apis/{uid}")
async def get_api(uid: uuid.UUID, principal: Reader, conn: Connection) -> ApiOut:
    """One API by its uid."""
    return await service.get_api(conn=conn, uid=uid)


@router.put("/apis/{uid}", dependencies=[catalog_write])
async def update_api(
    uid: uuid.UUID, body: ApiIn, principal: Admin, drivers: Drivers, conn: Connection
) -> ApiOut:
    """Replace an API's definition; it is checked again and its version grows by one."""
    return await service.update_api(
        conn=conn, drivers=drivers, uid=uid, body=body, principal=principal
    )


@router.delete("/apis/{uid}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[catalog_write])
async def delete_api(uid: uuid.UUID, principal: Admin, conn: Connection) -> Response:
    """Delete an API and its version history."""
    await service.delete_api(conn=conn, uid=uid, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/apis/{uid}/versions")
async def list_versions(uid: uuid.UUID, principal: Reader, conn: Connection) -> list[ApiVersionOut]:
    """Every saved definition of an API, newest first."""
    return await service.list_versions(conn=conn, uid=uid)
