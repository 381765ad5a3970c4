"""Small shops with planted structure, generated in memory, for the recommender's tests.

Users each like one category; inside it they view items in proportion to a Zipf popularity,
cart some of what they view and buy some of what they cart. Consumable items that were bought
come back: the buyer re-buys them every ``cycle_days`` (view, cart, purchase), durables never.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.matrix import Catalogue, Events
from shopcore.timeunits import US_PER_DAY

START_US = 1_735_689_600_000_000  # 2025-01-01 UTC


@dataclass
class PlantedShop:
    events: Events
    catalogue: Catalogue
    liked_category: np.ndarray  # per user (index = user_id - 1)
    item_category: np.ndarray  # per item (index = product_id - 1)
    consumable: np.ndarray  # per item


def planted_shop(
    *, users: int = 300, items: int = 120, categories: int = 6, days: int = 90,
    consumable_share: float = 0.0, sessions_per_user: float = 8.0, rebuy_probability: float = 0.9,
    cycle_days: float = 12.0, noise: float = 0.1, seed: int = 0,
) -> PlantedShop:
    rng = np.random.default_rng(seed)
    item_category = np.arange(items) % categories
    consumable = rng.random(items) < consumable_share
    popularity = 1.0 / (1.0 + rng.permutation(items) % (items // categories))  # Zipf within a category
    liked = rng.integers(0, categories, users)
    cols: dict[str, list] = {k: [] for k in ("user", "item", "kind", "at")}

    def emit(user: int, item: int, kind: int, at: float) -> None:
        cols["user"].append(user + 1)
        cols["item"].append(item + 1)
        cols["kind"].append(kind)
        cols["at"].append(int(START_US + at * US_PER_DAY))

    for u in range(users):
        in_cat = np.flatnonzero(item_category == liked[u])
        p = popularity[in_cat] / popularity[in_cat].sum()
        bought_at: dict[int, float] = {}
        n_sessions = rng.poisson(sessions_per_user)
        for t in np.sort(rng.uniform(0, days, n_sessions)):
            views = rng.choice(in_cat, size=rng.integers(2, 6), p=p)
            noisy = rng.random(len(views)) < noise
            views[noisy] = rng.integers(0, items, noisy.sum())
            for j, item in enumerate(views):
                at = t + j * 0.001
                emit(u, int(item), 0, at)
                if rng.random() < 0.35:
                    emit(u, int(item), 1, at + 0.0005)
                    owned_durable = item in bought_at and not consumable[item]
                    if rng.random() < 0.5 and not owned_durable:
                        emit(u, int(item), 2, at + 0.0008)
                        bought_at.setdefault(int(item), at)
        # Consumables come back every cycle, each time with rebuy_probability.
        for item, first in bought_at.items():
            if not consumable[item]:
                continue
            at = first + cycle_days * rng.lognormal(0, 0.15)
            while at < days and rng.random() < rebuy_probability:
                emit(u, item, 0, at)
                emit(u, item, 1, at + 0.001)
                emit(u, item, 2, at + 0.002)
                at += cycle_days * rng.lognormal(0, 0.15)
    order = np.argsort(np.array(cols["at"]), kind="stable")
    n = len(order)
    at = np.array(cols["at"], dtype=np.int64)[order]
    events = Events(
        user_id=np.array(cols["user"], dtype=np.int64)[order],
        product_id=np.array(cols["item"], dtype=np.int64)[order],
        event_type=np.array(cols["kind"], dtype=np.int8)[order],
        quantity=np.ones(n, dtype=np.int32),
        occurred_us=at,
        loaded_us=at + 1_000_000,
    )
    catalogue = Catalogue(np.arange(1, items + 1, dtype=np.int64),
                          np.array([f"cat{c}" for c in item_category]))
    return PlantedShop(events, catalogue, liked, item_category, consumable)


@dataclass
class BrandShop:
    events: Events
    catalogue: Catalogue
    liked_brand: np.ndarray  # per user (index = user_id - 1): the brand name they favour, "" for none


def brand_shop(
    *, users: int = 400, categories: int = 3, brands: int = 4, items_per_brand: int = 5,
    liker_share: float = 0.5, lift: float = 1.5, views_per_user: int = 24, seed: int = 0,
) -> BrandShop:
    """Users view items of one liked category (as popular as each other); a ``liker_share`` of
    them favour one brand there, whose items they view ``e^lift`` times as often."""
    rng = np.random.default_rng(seed)
    n_items = categories * brands * items_per_brand
    item = np.arange(n_items)
    category = item // (brands * items_per_brand)
    brand = item // items_per_brand  # brand codes are global: each brand sells in one category
    liked_cat = rng.integers(0, categories, users)
    likes = rng.random(users) < liker_share
    liked = np.where(likes, liked_cat * brands + rng.integers(0, brands, users), -1)
    user, product = [], []
    for u in range(users):
        in_cat = np.flatnonzero(category == liked_cat[u])
        w = np.where(brand[in_cat] == liked[u], np.exp(lift), 1.0)
        user.append(np.full(views_per_user, u + 1))
        product.append(rng.choice(in_cat, size=views_per_user, p=w / w.sum()) + 1)
    n = users * views_per_user
    # A view a day per user: each its own visit.
    at = START_US + np.tile(np.arange(views_per_user), users).astype(np.int64) * US_PER_DAY
    events = Events(np.concatenate(user).astype(np.int64), np.concatenate(product).astype(np.int64),
                    np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int32), at, at + 1_000_000)
    names = np.array([f"brand{b}" for b in range(categories * brands)])
    catalogue = Catalogue(item + 1, np.array([f"cat{c}" for c in category]), brand=names[brand],
                          price=np.full(n_items, 10.0))
    return BrandShop(events, catalogue, np.where(liked >= 0, names[np.maximum(liked, 0)], ""))
