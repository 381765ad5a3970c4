"""Names and e-mail addresses of synthetic users.

Faker is slow per call, so it is asked once per locale for a pool of first and last names;
users then get names by combining pool entries with numpy, which is fast for any user count.
Names and addresses are UTF-8 byte strings (numpy ``S`` arrays): joined by numpy's string
functions without a Python object per user, a quarter of the memory of ``str`` arrays, and
written to COPY as they are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.catalog import COUNTRIES, EMAIL_DOMAINS

_POOL_DRAWS = 300
# The local parts of e-mail addresses, by pattern: first.last, firstlast, f.last, first_last,
# first.last and two digits: (the separator, whether the first name is cut to its initial,
# whether two digits follow).
_SEPARATORS = np.array([b".", b"", b".", b"_", b"."])
_INITIAL_ONLY = 2
_WITH_DIGITS = 4
_NON_EMAIL = re.compile(r"[^a-z0-9]")


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_EMAIL.sub("", folded.lower())


@dataclass(frozen=True)
class NamePool:
    first: np.ndarray  # display names, UTF-8 bytes
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
            first=np.array([n.encode() for n in first]),
            last=np.array([n.encode() for n in last]),
            first_slug=np.array([_ascii_slug(n) for n in first], dtype=bytes),
            last_slug=np.array([_ascii_slug(n) for n in last], dtype=bytes),
        )
    return pools


def make_people(
    country_index: np.ndarray,
    pools: dict[str, NamePool],
    rng: np.random.Generator,
    taken_emails: set[bytes],
) -> tuple[np.ndarray, np.ndarray]:
    """Full names and unique e-mail addresses (UTF-8 bytes) for users of the given countries.

    ``taken_emails`` holds the addresses already in use and receives the new ones.
    """
    n = len(country_index)
    locales = np.array([loc for _, _, loc in COUNTRIES])[country_index]
    rows_of, names, locals_ = [], [], []
    for locale in np.unique(locales):
        rows = np.flatnonzero(locales == locale)
        pool = pools[str(locale)]
        fi = rng.integers(0, len(pool.first), len(rows))
        li = rng.integers(0, len(pool.last), len(rows))
        pattern = rng.integers(0, 5, len(rows))
        digits = rng.integers(10, 100, len(rows))
        first = pool.first_slug[fi]
        first = np.where(pattern == _INITIAL_ONLY, np.strings.slice(first, 0, 1), first)
        tail = np.where(pattern == _WITH_DIGITS, digits.astype(bytes), b"")
        rows_of.append(rows)
        names.append(np.strings.add(np.strings.add(pool.first[fi], b" "), pool.last[li]))
        locals_.append(np.strings.add(np.strings.add(first, _SEPARATORS[pattern]),
                                      np.strings.add(pool.last_slug[li], tail)))
    full_name, local = _scatter(rows_of, names, n), _scatter(rows_of, locals_, n)
    domains = np.array([f"@{d}".encode() for d, _ in EMAIL_DOMAINS])
    weights = np.array([w for _, w in EMAIL_DOMAINS])
    domain = rng.choice(len(domains), size=n, p=weights / weights.sum())
    return full_name, _unique_addresses(np.strings.add(local, domains[domain]), taken_emails)


def _scatter(rows_of: list[np.ndarray], parts: list[np.ndarray], n: int) -> np.ndarray:
    """One byte-string array of ``n`` rows from parts that fill the rows ``rows_of``."""
    out = np.empty(n, dtype=np.result_type(np.bytes_, *parts))
    for rows, part in zip(rows_of, parts):
        out[rows] = part
    return out


def _unique_addresses(addresses: np.ndarray, taken_emails: set[bytes]) -> np.ndarray:
    """The addresses made unique, in row order: the first row with a free address keeps it;
    the others (repeats among them, or addresses already taken) get the smallest free number.
    ``taken_emails`` receives them all."""
    listed = addresses.tolist()
    taken, take = taken_emails.__contains__, taken_emails.add
    # One pass: an address is kept if free, and taken at once (``take`` returns None).
    repeats = [i for i, address in enumerate(listed) if taken(address) or take(address) is not None]
    if not repeats:
        return addresses
    for i in repeats:
        name, at, dom = listed[i].partition(b"@")
        k = 2
        while b"%s%d%s%s" % (name, k, at, dom) in taken_emails:
            k += 1
        listed[i] = b"%s%d%s%s" % (name, k, at, dom)
        taken_emails.add(listed[i])
    return np.array(listed)
