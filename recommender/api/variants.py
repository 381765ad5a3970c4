"""A/B assignment: a stable hash of the user id picks the variant, the same in every process."""

from __future__ import annotations

import bisect
import hashlib
import json

from recommender.api.settings import VariantSpec

_SALT = b"shop-api-ab-v1"


class Assigner:
    def __init__(self, specs: tuple[VariantSpec, ...]) -> None:
        self.specs = specs
        self.bounds: list[int] = []
        total = 0
        for spec in specs:
            total += spec.weight
            self.bounds.append(total)
        self.total = total
        # Logged with every served list (raw.served_recommendations.variant_weights): the split a
        # user entered the experiment under, for the sample-ratio check.
        self.weights_json = json.dumps({spec.name: spec.weight for spec in specs}, separators=(",", ":"))

    def bucket(self, user_id: int) -> int:
        digest = hashlib.blake2b(str(user_id).encode(), digest_size=8, key=_SALT).digest()
        return int.from_bytes(digest, "big") % self.total

    def assign(self, user_id: int) -> VariantSpec:
        if len(self.specs) == 1:
            return self.specs[0]
        return self.specs[bisect.bisect_right(self.bounds, self.bucket(user_id))]
