"""GET /model: the model card of what is being served, per variant."""

from __future__ import annotations

from fastapi import APIRouter

from recommender.api.deps import StateDep
from recommender.api.schemas import ModelOut, VariantModel

router = APIRouter(tags=["model"])


@router.get("/model", response_model=ModelOut, summary="The current model card")
async def model(state: StateDep) -> ModelOut:
    variants = []
    for spec in state.settings.variants:
        slot = state.slots.get(spec.source)
        served = slot.model if slot is not None else None
        variants.append(VariantModel(
            variant=spec.name, source=spec.source, weight=spec.weight,
            model_id=served.model_id if served else None,
            loaded_at=slot.loaded_at if slot is not None else None,
            card=served.card if served else None,
            error=(slot.error or slot.warning) if slot is not None else None,
        ))
    current = state.current_slot
    current_model = current.model if current is not None else None
    return ModelOut(model_id=current_model.model_id if current_model else None,
                    card=current_model.card if current_model else None, variants=variants)
