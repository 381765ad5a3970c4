"""GET /health/live (the process answers) and GET /health/ready (it can do its job)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from recommender.api.deps import StateDep
from recommender.api.schemas import Liveness, Readiness, ReadinessCheck
from recommender.api.warehouse_health import warehouse_check

router = APIRouter(prefix="/health", tags=["health"])

_LIVE = Liveness()


@router.get("/live", response_model=Liveness, summary="The process is up")
async def live() -> Liveness:
    return _LIVE


@router.get("/ready", response_model=Readiness,
            summary="Database reachable, products loaded, a model or popularity until one loads (200 ready or degraded)",
            responses={503: {"model": Readiness, "description": "Not ready: the checks say why"}})
async def ready(state: StateDep, response: Response) -> Readiness:
    checks: dict[str, ReadinessCheck] = {}
    degraded = False
    problem = await state.db.ping()
    checks["database"] = ReadinessCheck(ok=problem is None, detail=problem or "reachable")
    for source, slot in state.slots.items():
        name = "model" if source == "current" else f"model:{source}"
        if slot.model is not None:
            detail = f"serving {slot.model.model_id}"
            if slot.error:
                detail += f" (degraded: the newest load failed: {slot.error})"
            elif slot.warning:
                detail += f" (degraded: {slot.warning})"
            degraded = degraded or bool(slot.error or slot.warning)
            checks[name] = ReadinessCheck(ok=True, detail=detail)
        else:  # popularity answers everyone until a model loads: degraded, not down
            degraded = True
            checks[name] = ReadinessCheck(
                ok=True, detail=f"{slot.error or 'no model loaded'} Serving popularity until a model loads.")
    catalogue = state.catalogue
    checks["products"] = ReadinessCheck(
        ok=len(catalogue) > 0,
        detail=f"{len(catalogue)} products loaded" if len(catalogue) else (state.catalogue_error or "none loaded"),
    )
    # A stale warehouse degrades, it does not stop: the loaded model still answers.
    stale, detail = warehouse_check(state.settings.home_dir)
    checks["warehouse"] = ReadinessCheck(ok=True, detail=detail)
    degraded = degraded or stale
    ok = all(c.ok for c in checks.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status=("degraded" if degraded else "ready") if ok else "not ready", checks=checks)
