"""The control API (``/_control``, no authentication: a test tool on loopback): faults,
rules, tokens and webhook secrets on demand; state, records and the apply log for
assertions; reset between tests."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from bridge_core.db.transaction import Connection
from bridge_core.errors import Unprocessable
from schedulehub_standin import signatures
from schedulehub_standin.exact_json import ExactJSONResponse
from schedulehub_standin.inspection import InspectionRepository
from schedulehub_standin.runtime import Runtime, get_runtime
from schedulehub_standin.schemas import FaultPlan, Rules, TokenControl, WebhookSecrets

CurrentRuntime = Annotated[Runtime, Depends(get_runtime)]

router = APIRouter(prefix="/_control", tags=["control"])


@router.get("/state")
async def state(conn: Connection, runtime: CurrentRuntime) -> dict[str, Any]:
    """Records held and changes applied per entity, webhooks applied, faults injected,
    rejections and sign-ins counted, and the plan and rules in force."""
    repo = InspectionRepository(conn)
    return {
        "records": await repo.record_counts(),
        "applied": await repo.applied_counts(),
        "webhooks": await repo.webhook_count(),
        "counters": dict(runtime.counters),
        "faults_injected": dict(runtime.dice.injected),
        "faults": runtime.dice.plan.model_dump(),
        "rules": runtime.rules.model_dump(),
        "access_token_seconds": runtime.tokens.access_seconds,
    }


@router.get("/records/{entity}", response_model=list[dict[str, Any]])
async def entity_records(
    entity: str, conn: Connection, include_deleted: bool = False
) -> ExactJSONResponse:
    """Every record of the entity held (live, or also deleted), in key order; numbers
    digit for digit."""
    held = await InspectionRepository(conn).all_records(entity, include_deleted=include_deleted)
    return ExactJSONResponse(held)


@router.get("/log")
async def log(
    conn: Connection,
    entity: str | None = None,
    key: str | None = None,
    after: int = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[dict[str, Any]]:
    """The apply log in commit order (``seq``): entity, key, uid, op, via, hashes, time."""
    return await InspectionRepository(conn).log_entries(
        entity=entity, key=key, after=after, limit=limit
    )


@router.post("/faults")
async def set_faults(plan: FaultPlan, runtime: CurrentRuntime) -> FaultPlan:
    """Put a fault plan in force (every field not given is off); a fresh seeded die."""
    runtime.dice.set_plan(plan)
    return plan


@router.post("/rules")
async def set_rules(rules: Rules, runtime: CurrentRuntime) -> Rules:
    """Replace the rejection rules and the parent check."""
    runtime.rules = rules
    return rules


@router.post("/tokens")
async def control_tokens(body: TokenControl, runtime: CurrentRuntime) -> dict[str, float]:
    """Change the access token lifetime (new tokens) and/or expire every access token now."""
    if body.access_token_seconds is not None:
        runtime.tokens.access_seconds = body.access_token_seconds
    if body.expire_all:
        runtime.tokens.expire_all()
    return {"access_token_seconds": runtime.tokens.access_seconds}


@router.post("/webhook-secrets")
async def set_webhook_secrets(body: WebhookSecrets, runtime: CurrentRuntime) -> dict[str, int]:
    """Replace the secrets webhook signatures are checked against."""
    for position, secret in enumerate(body.secrets):
        try:
            signatures.secret_key(secret)
        except ValueError as exc:
            raise Unprocessable(str(exc), loc=("body", "secrets", position)) from exc
    runtime.webhook_secrets = list(body.secrets)
    return {"secrets": len(body.secrets)}


@router.post("/reset")
async def reset(conn: Connection, runtime: CurrentRuntime) -> dict[str, str]:
    """Forget every record, log entry and webhook; faults and rules off; counters zero."""
    await InspectionRepository(conn).clear()
    runtime.reset()
    return {"status": "reset"}
