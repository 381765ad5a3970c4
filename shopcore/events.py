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


def _spelling_pattern(cleaned: str) -> str:
    """A regex for the spellings whose normalised form is ``cleaned`` (letters in either case, each
    '_' as '_', ' ' or '-'); ASCII only, in the syntax JSON Schema (ECMA 262) and Python share."""
    out = []
    for char in cleaned:
        if char == "_":
            out.append("[_ -]")
        elif char.isascii() and char.isalpha():
            out.append(f"[{char.lower()}{char.upper()}]")
        elif char.isascii() and char.isalnum():
            out.append(char)
        else:
            raise RuntimeError(f"dbt_project.yml's event type spelling {cleaned!r} has a character the API's "
                               "pattern cannot express (use letters, digits and '_')")
    return "".join(out)


def event_type_pattern(only: tuple[str, ...] = EVENT_TYPES) -> str:
    """The event_type spellings the API accepts, as one anchored regex made from the vocabulary: an
    event type or a synonym in any letter case, each '_' also as ' ' or '-', with optional spaces
    around. Every spelling it matches normalises (normalise_event_type) to one of EVENT_TYPES; the
    API accepts exactly these, and its OpenAPI document declares this pattern. ``only``: the
    spellings of these types only."""
    spellings = sorted((s for s in {*EVENT_TYPES, *SYNONYMS} if normalise_event_type(s) in only or s in only),
                       key=lambda s: (-len(s), s))
    for spelling in spellings:
        if normalise_event_type(spelling) not in EVENT_TYPES:
            raise RuntimeError(f"dbt_project.yml: the synonym {spelling!r} maps to {SYNONYMS[spelling]!r}, "
                               "which is not an event type")
    return "^ *(?:" + "|".join(_spelling_pattern(s) for s in spellings) + ") *$"
