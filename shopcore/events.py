"""The event vocabulary: the three event types, their codes, and the spellings producers send.

The types and their synonyms have one home, the `event_types` and `event_type_synonyms` vars of
dbt_project.yml: the warehouse's normalize_event_type macro reads them there, and so does this module,
for the simulator, the recommender and the API.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from shopcore.dbt_artifacts import PROJECT_DIR

VIEW, ADD_TO_CART, PURCHASE = 0, 1, 2  # codes: the position in EVENT_TYPES


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, Any]:
    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        variables = yaml.safe_load(handle)["vars"]
    return {"types": tuple(variables["event_types"]), "synonyms": dict(variables["event_type_synonyms"])}


EVENT_TYPES: tuple[str, ...] = _vocabulary()["types"]
SYNONYMS: dict[str, str] = _vocabulary()["synonyms"]
if EVENT_TYPES[VIEW] != "view" or EVENT_TYPES[ADD_TO_CART] != "add_to_cart" or EVENT_TYPES[PURCHASE] != "purchase":
    raise RuntimeError(f"dbt_project.yml's event_types must be view, add_to_cart, purchase (got {EVENT_TYPES})")


def normalise_event_type(value: str) -> str:
    """What the warehouse makes of a producer's spelling: trimmed, lower case, `_` for ' ' and '-',
    then a synonym looked up. The result is one of EVENT_TYPES only when the spelling is known."""
    cleaned = value.strip().lower().replace("-", "_").replace(" ", "_")
    return SYNONYMS.get(cleaned, cleaned)
