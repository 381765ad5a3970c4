"""Names and e-mail addresses of synthetic users.

Faker is slow per call, so it is asked once per locale for a pool of first and last names;
users then get names by combining pool entries with numpy, which is fast for any user count.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.catalog import COUNTRIES, EMAIL_DOMAINS

_POOL_DRAWS = 300
# The local parts of e-mail addresses, by pattern: first.last, firstlast, f.last, first_last,
# first.last and two digits.
_LOCAL_PARTS = (
    lambda f, la, d: f"{f}.{la}",
    lambda f, la, d: f"{f}{la}",
    lambda f, la, d: f"{f[:1]}.{la}",
    lambda f, la, d: f"{f}_{la}",
    lambda f, la, d: f"{f}.{la}{d}",
)
_NON_EMAIL = re.compile(r"[^a-z0-9]")


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_EMAIL.sub("", folded.lower())


@dataclass(frozen=True)
class NamePool:
    first: np.ndarray  # display names (unicode)
    last: np.ndarray
    first_slug: np.ndarray  # the same names folded to [a-z0-9] for e-mail addresses
    last_slug: np.ndarray


def build_name_pools(seed: int) -> dict[str, NamePool]:
    """One pool of names per Faker locale used by ``COUNTRIES``, deterministic from ``seed``."""
    pools: dict[str, NamePool] = {}
    for locale in sorted({loc for _, _, loc in COUNTRIES}):
        # Only the person provider: the others are never asked, and loading each locale's
        # whole set of providers costs more than drawing the pools.
        fake = Faker(locale, providers=["faker.providers.person"])
        fake.seed_instance(seed)
        # sorted(set(...)) removes repeats with an order that does not depend on hashing.
        first = sorted({fake.first_name() for _ in range(_POOL_DRAWS)})
        last = sorted({fake.last_name() for _ in range(_POOL_DRAWS)})
        first = [n for n in first if _ascii_slug(n)] or ["Alex"]
        last = [n for n in last if _ascii_slug(n)] or ["Smith"]
        pools[locale] = NamePool(
            first=np.array(first),
            last=np.array(last),
            first_slug=np.array([_ascii_slug(n) for n in first]),
            last_slug=np.array([_ascii_slug(n) for n in last]),
        )
    return pools


def make_people(
    country_index: np.ndarray,
    pools: dict[str, NamePool],
    rng: np.random.Generator,
    taken_emails: set[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Full names and unique e-mail addresses for users of the given countries.

    ``taken_emails`` holds the addresses already in use and receives the new ones.
    """
    n = len(country_index)
    locales = np.array([loc for _, _, loc in COUNTRIES])[country_index]
    full_name = np.empty(n, dtype=object)
    local = np.empty(n, dtype=object)
    for locale in np.unique(locales):
        rows = np.flatnonzero(locales == locale)
        pool = pools[str(locale)]
        # Python strings joined row by row: far cheaper than numpy's fixed-width string ufuncs.
        fi = rng.integers(0, len(pool.first), len(rows)).tolist()
        li = rng.integers(0, len(pool.last), len(rows)).tolist()
        firsts, lasts = pool.first.tolist(), pool.last.tolist()
        full_name[rows] = [f"{firsts[f]} {lasts[la]}" for f, la in zip(fi, li)]
        first_slug, last_slug = pool.first_slug.tolist(), pool.last_slug.tolist()
        pattern = rng.integers(0, 5, len(rows)).tolist()
        digits = rng.integers(10, 100, len(rows)).tolist()
        local[rows] = [_LOCAL_PARTS[k](first_slug[f], last_slug[la], d)
                       for k, f, la, d in zip(pattern, fi, li, digits)]
    domains = [d for d, _ in EMAIL_DOMAINS]
    weights = np.array([w for _, w in EMAIL_DOMAINS])
    domain = rng.choice(len(domains), size=n, p=weights / weights.sum()).tolist()
    out = [f"{name}@{domains[d]}" for name, d in zip(local.tolist(), domain)]

    # Make addresses unique: the first row with a free address keeps it; the others (repeats
    # in this batch, or addresses already taken) get the smallest free number. The same set
    # keeps addresses of users added later (live mode) unique too.
    taken, take = taken_emails.__contains__, taken_emails.add
    # One pass: an address is kept if free, and taken at once (``take`` returns None).
    keep = [not taken(address) and take(address) is None for address in out]
    for i in itertools.compress(range(n), [not k for k in keep]):
        name, at, dom = out[i].partition("@")
        k = 2
        while f"{name}{k}{at}{dom}" in taken_emails:
            k += 1
        out[i] = f"{name}{k}{at}{dom}"
        taken_emails.add(out[i])
    return full_name.astype(str), np.array(out)
