"""Entities API: define what to sync; creating or changing an entity migrates its table."""

from fastapi import APIRouter, Response, status

from bridge_core.db.transaction import Connection
from syncflow.auth.dependencies import AppSettings, Operator
from syncflow.entities import service
from syncflow.entities.schemas import EntityBody, EntityChange, EntityCreate, EntityOut
from syncflow.targets.dependencies import TargetConnection

router = APIRouter(prefix="/entities", tags=["entities"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_entity(
    body: EntityCreate,
    _: Operator,
    settings: AppSettings,
    conn: Connection,
    target_conn: TargetConnection,
) -> EntityChange:
    """Create an entity (defaults from the API's metadata) and its target table."""
    return await service.create_entity(conn, target_conn, settings=settings, body=body)


@router.get("")
async def list_entities(_: Operator, conn: Connection) -> list[EntityOut]:
    return await service.list_entities(conn)


@router.get("/{name}")
async def get_entity(name: str, _: Operator, conn: Connection) -> EntityOut:
    return await service.get_entity(conn, name=name)


@router.put("/{name}")
async def update_entity(
    name: str,
    body: EntityBody,
    _: Operator,
    settings: AppSettings,
    conn: Connection,
    target_conn: TargetConnection,
) -> EntityChange:
    """Replace the definition (unset keys default again) and migrate the target table."""
    return await service.update_entity(conn, target_conn, settings=settings, name=name, body=body)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_entity(name: str, _: Operator, conn: Connection) -> Response:
    """Delete the entity; its target table and batch history are kept."""
    await service.delete_entity(conn, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
