"""Which algorithm `shop train` (algorithm `auto`) serves: the best on validation, unless a simpler
one cannot be told apart from it.

A simpler model is cheaper to train and serve, fails in fewer ways and explains itself more
plainly, so it wins every tie, and a tie is what the validation window cannot separate: the
paired bootstrap interval (recommender.uncertainty) of the best one's lead over it reaches zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from recommender.evaluation import Metrics
from recommender.uncertainty import Interval, PairedBootstrap

# Simplest first: baselines, neighbourhoods, factorisations, then the models built on top of them.
SIMPLICITY = ("popularity", "buy_again", "user_knn", "item_knn", "ease", "als", "hybrid", "ranker")


class Candidate(Protocol):
    algorithm: str
    validation: Metrics


@dataclass(frozen=True)
class Choice:
    algorithm: str
    best_on_validation: str
    reason: str
    lead: Interval | None = None  # the best one's validation lead over the chosen one (when simpler)

    def as_dict(self) -> dict:
        out = {"algorithm": self.algorithm, "best_on_validation": self.best_on_validation, "reason": self.reason}
        if self.lead is not None:
            out["lead_of_best"] = {"estimate": self.lead.estimate, "low": self.lead.low, "high": self.lead.high}
        return out


def simplicity(algorithm: str) -> int:
    return SIMPLICITY.index(algorithm) if algorithm in SIMPLICITY else len(SIMPLICITY)


def choose(candidates: Sequence[Candidate], *, k: int = 10, seed: int = 0) -> Choice:
    """The simplest candidate whose validation NDCG@k the best one's does not beat beyond the noise."""
    if not candidates:
        raise ValueError("no candidate to choose from")
    best = max(candidates, key=lambda c: (c.validation.ndcg, -simplicity(c.algorithm)))
    users = len(best.validation.per_user_ndcg)
    name = f"NDCG@{k}"
    if users == 0:
        return Choice(best.algorithm, best.algorithm, f"{best.algorithm} is best on validation ({name} "
                      f"{best.validation.ndcg:.4f}); no per-user results to judge the noise")
    bootstrap = PairedBootstrap(users, seed=seed)
    simpler = sorted((c for c in candidates if simplicity(c.algorithm) < simplicity(best.algorithm)),
                     key=lambda c: simplicity(c.algorithm))
    leads = []
    for candidate in simpler:
        lead = bootstrap.difference(best.validation.per_user_ndcg, candidate.validation.per_user_ndcg)
        if lead.low <= 0.0:
            return Choice(candidate.algorithm, best.algorithm, (
                f"{candidate.algorithm} chosen: simpler than {best.algorithm}, the best on validation, and not "
                f"separable from it on {users:,} validation users ({best.algorithm}'s lead in {name}: "
                f"{lead.estimate:+.4f}, 95% interval [{lead.low:+.4f}, {lead.high:+.4f}] includes 0)"), lead)
        leads.append((lead.low, candidate.algorithm, lead))
    if not leads:
        return Choice(best.algorithm, best.algorithm, f"{best.algorithm} chosen: best on validation ({name} "
                      f"{best.validation.ndcg:.4f}) and the simplest candidate")
    _, closest, lead = min(leads)
    return Choice(best.algorithm, best.algorithm, (
        f"{best.algorithm} chosen: best on validation ({name} {best.validation.ndcg:.4f} on {users:,} users), "
        f"ahead of every simpler candidate beyond the noise (closest: {closest}, lead {lead.estimate:+.4f}, "
        f"95% interval [{lead.low:+.4f}, {lead.high:+.4f}])"))
