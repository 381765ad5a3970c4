"""Names and e-mail addresses of synthetic users.

Faker is slow per call, so it is asked once per locale for a pool of first and last names;
users then get names by combining pool entries with numpy, which is fast for any user count.
Names and addresses are UTF-8 byte strings (numpy ``S`` arrays): joined by numpy's string
functions without a Python object per user, a quarter of the memory of ``str`` arrays, and
written to COPY as they are.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from faker import Generator
from faker.providers.person import Provider as BasePersonProvider

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
        provider = _person_provider(locale, seed)
        # sorted(set(...)) removes repeats with an order that does not depend on hashing.
        first = sorted(set(_draw_names(provider, "first_name", "first_names")))
        last = sorted(set(_draw_names(provider, "last_name", "last_names")))
        # Names whose slug is empty cannot make an address: left out.
        first = [(n, slug) for n in first if (slug := _ascii_slug(n))] or [("Alex", "alex")]
        last = [(n, slug) for n in last if (slug := _ascii_slug(n))] or [("Smith", "smith")]
        pools[locale] = NamePool(
            first=np.array([n.encode() for n, _ in first]),
            last=np.array([n.encode() for n, _ in last]),
            first_slug=np.array([slug for _, slug in first], dtype=bytes),
            last_slug=np.array([slug for _, slug in last], dtype=bytes),
        )
    return pools


def _person_provider(locale: str, seed: int) -> BasePersonProvider:
    """The locale's Faker person provider on a generator seeded with ``seed``: what
    ``Faker(locale, providers=["faker.providers.person"]).seed_instance(seed)`` draws from,
    built directly (the Faker proxy's factory lists every locale's module on disk to find it)."""
    generator = Generator(locale=locale, use_weighting=True)
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider(generator)
    provider.__use_weighting__ = True
    generator.add_provider(provider)
    generator.seed_instance(seed)
    return provider


def _draw_names(provider: BasePersonProvider, method: str, table: str) -> list[str]:
    """``_POOL_DRAWS`` calls of the provider's ``method`` (first_name or last_name): the same
    names from the same random stream, but where the method is Faker's plain pick from a
    weighted table, the table's running weights are summed once rather than on every call.
    A locale that draws its own way is asked call by call."""
    names = getattr(provider, table, None)
    if getattr(type(provider), method) is not getattr(BasePersonProvider, method) or names is None:
        return [getattr(provider, method)() for _ in range(_POOL_DRAWS)]
    random = provider.generator.random
    if isinstance(names, OrderedDict):
        # Faker's weighted pick is random.choices(keys, weights, k=1): one uniform per call.
        return random.choices(tuple(names), cum_weights=list(accumulate(names.values())), k=_POOL_DRAWS)
    return [random.choice(names) for _ in range(_POOL_DRAWS)]


def make_people(
    country_index: np.ndarray,
    pools: dict[str, NamePool],
    rng: np.random.Generator,
    taken_emails: set[bytes] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Full names and unique e-mail addresses (UTF-8 bytes) for users of the given countries.

    ``taken_emails`` holds the addresses already in use and receives the new ones (``None``:
    none is taken, and the new ones need not be gathered).

    Each string is joined from a few pieces tabulated once (a first name and what follows it,
    a last name, the digits and domain that end an address), picked by index for every user:
    a few joins over all users rather than many per locale.
    """
    n = len(country_index)
    names = sorted({loc for _, _, loc in COUNTRIES})
    locale = np.array([names.index(loc) for _, _, loc in COUNTRIES], dtype=np.int8)[country_index]
    by_locale = np.argsort(locale, kind="stable")
    bounds = np.searchsorted(locale[by_locale], np.arange(len(names) + 1))
    parts = _PoolPieces([pools[name] for name in names])
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    pattern = np.empty(n, dtype=np.int64)
    digits = np.empty(n, dtype=np.int64)
    for i in range(len(names)):  # each locale's draws in turn, in row order
        rows = by_locale[bounds[i]:bounds[i + 1]]
        if len(rows) == 0:
            continue
        pool = pools[names[i]]
        first[rows] = parts.first_at[i] + rng.integers(0, len(pool.first), len(rows))
        last[rows] = parts.last_at[i] + rng.integers(0, len(pool.last), len(rows))
        pattern[rows] = rng.integers(0, 5, len(rows))
        digits[rows] = rng.integers(10, 100, len(rows))
    full_name = _joined((parts.first_and_space, first), (parts.last, last))
    domains = np.array([f"@{d}".encode() for d, _ in EMAIL_DOMAINS])
    weights = np.array([w for _, w in EMAIL_DOMAINS])
    domain = rng.choice(len(domains), size=n, p=weights / weights.sum())
    # The address: the first name (or its initial) with its separator, the last name, then
    # the digits (if any) and the domain.
    digit_tail = np.where(pattern == _WITH_DIGITS, digits, 0)
    address = _joined((parts.heads, pattern * parts.n_first + first), (parts.last_slug, last),
                      (_address_ends(domains), digit_tail * len(domains) + domain))
    return full_name, _unique_addresses(address, taken_emails)


@dataclass(frozen=True)
class _PoolPieces:
    """Every locale's pool pieces in one array each (locale i's entries from ``first_at[i]``)."""

    first_at: np.ndarray
    last_at: np.ndarray
    n_first: int
    first_and_space: np.ndarray  # display first name + " "
    last: np.ndarray  # display last name
    last_slug: np.ndarray
    heads: np.ndarray  # pattern p's address head of first name j at p * n_first + j

    def __init__(self, pools: list[NamePool]) -> None:
        first_slug = np.concatenate([p.first_slug for p in pools])
        initial = np.strings.slice(first_slug, 0, 1)
        heads = [np.strings.add(initial if p == _INITIAL_ONLY else first_slug, _SEPARATORS[p])
                 for p in range(len(_SEPARATORS))]
        put = object.__setattr__
        put(self, "first_at", np.cumsum([0] + [len(p.first) for p in pools]))
        put(self, "last_at", np.cumsum([0] + [len(p.last) for p in pools]))
        put(self, "n_first", len(first_slug))
        put(self, "first_and_space", np.strings.add(np.concatenate([p.first for p in pools]), b" "))
        put(self, "last", np.concatenate([p.last for p in pools]))
        put(self, "last_slug", np.concatenate([p.last_slug for p in pools]))
        put(self, "heads", np.concatenate(heads))


def _address_ends(domains: np.ndarray) -> np.ndarray:
    """What ends an address, at ``number * len(domains) + domain``: the two digits (number
    10-99; none for 0) and the domain."""
    numbers = np.array([b""] + [b"%d" % k for k in range(1, 100)])
    return np.strings.add(np.repeat(numbers, len(domains)), np.tile(domains, len(numbers)))


def _unique_addresses(addresses: np.ndarray, taken_emails: set[bytes] | None) -> np.ndarray:
    """The addresses made unique, in row order: the first row with a free address keeps it;
    the others (repeats among them, or addresses already taken) get the smallest free number.
    ``taken_emails`` receives them all; ``None`` means no address is taken yet and nobody
    needs the set (a new world's users: the world gathers it when users are added)."""
    if taken_emails is None:
        fast = _numbered_repeats(addresses)
        if fast is not None:
            return _narrowest(fast)
        taken_emails = set()
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


def _numbered_repeats(addresses: np.ndarray) -> np.ndarray | None:
    """(May write into ``addresses``.) What ``_unique_addresses`` gives when no address was taken before, by array operations:
    the j-th repeat of an address (in row order) becomes name{j + 1}@domain. That is the
    smallest free number unless a numbered address meets another address (or a hash of two
    differs only in name): then ``None``, and the caller takes the row-by-row path."""
    n = len(addresses)
    if n == 0:
        return addresses
    # The hash's high bits, then the row: one plain sort puts the rows of an address
    # together, in row order (a stable sort of the hash alone is several times slower).
    row_bits = max(int(n).bit_length(), 1)
    key = (_row_hash(addresses) >> np.uint64(row_bits) << np.uint64(row_bits)) | np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    sorted_key = key >> np.uint64(row_bits)
    first = np.concatenate(([True], sorted_key[1:] != sorted_key[:-1]))
    run_start = np.flatnonzero(first)
    run_of = np.cumsum(first) - 1
    rank = np.arange(n) - run_start[run_of]
    repeat = order[rank > 0]
    if len(repeat) == 0:
        return addresses
    # Equal hashes of different addresses are not repeats: leave that to the exact path.
    if (addresses[repeat] != addresses[order[run_start[run_of[rank > 0]]]]).any():
        return None
    name, at, domain = np.strings.partition(addresses[repeat], b"@")
    number = (rank[rank > 0] + 1).astype(bytes)
    numbered = _narrowest(np.strings.add(np.strings.add(name, number), np.strings.add(at, domain)))
    # Equal strings hash alike only at one width: hash both at the wider of the two.
    if numbered.itemsize <= addresses.itemsize:
        numbered_key = _row_hash(numbered.astype(addresses.dtype)) >> np.uint64(row_bits)
        kept_key = sorted_key[first]
    else:
        numbered_key = _row_hash(numbered) >> np.uint64(row_bits)
        kept_key = _row_hash(addresses[order[first]].astype(numbered.dtype)) >> np.uint64(row_bits)
    every = np.sort(np.concatenate((kept_key, numbered_key)))
    if (every[1:] == every[:-1]).any():
        return None
    # In place when the numbered addresses fit (the caller's own array): no copy of them all.
    out = addresses if numbered.itemsize <= addresses.itemsize else addresses.astype(numbered.dtype)
    out[repeat] = numbered
    return out


def _joined(*pieces: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Row by row, the concatenation of ``table[index]`` of each (table, index) piece, in the
    narrowest type that holds the longest (as ``_narrowest`` would give). Each join writes
    straight into that width, known from the tables' lengths: no join at the sum of the
    tables' widths, then a pass to measure and a copy to narrow."""
    table, index = pieces[0]
    out = np.take(table, index)
    length = np.strings.str_len(table)[index]
    for table, index in pieces[1:]:
        length += np.strings.str_len(table)[index]
        joined = np.empty(len(out), dtype=f"S{max(int(length.max(initial=0)), 1)}")
        # The unsafe cast only narrows the type: every row fits its width.
        np.add(out, np.take(table, index), out=joined, casting="unsafe")
        out = joined
    return out


def _narrowest(strings: np.ndarray) -> np.ndarray:
    """The same byte strings in the narrowest type that holds the longest."""
    width = max(int(np.strings.str_len(strings).max(initial=0)), 1)
    return strings if strings.dtype.itemsize == width else strings.astype(f"S{width}")


def _row_hash(strings: np.ndarray) -> np.ndarray:
    """A 64-bit hash (uint64) of each fixed-width byte string: equal strings of one array
    (one width) hash alike."""
    width = strings.dtype.itemsize
    padded = np.zeros((len(strings), -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = strings.view(np.uint8).reshape(len(strings), width)
    words = padded.view(np.uint64)
    h = np.full(len(strings), 0xCBF29CE484222325, dtype=np.uint64)
    for column in words.T:
        h ^= column
        h *= np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
    return h
