"""The formats `shop import` reads, how each is recognised by its header, and what each row becomes.

A file has a *role*: a format and what the file holds in it (raw users, RetailRocket item properties, ...).
Each role's `parse` turns a batch of text columns into staged rows: events (raw.interactions' layout),
user and product attributes seen (from which the import derives raw.users and raw.products), and the
rows it rejects with a reason. The defaults for what a source lacks are listed in README.md
("Bring your own data") and in each parser below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer import ids, values
from importer.errors import MissingColumns, UnknownFormat
from shopcore.events import EVENT_TYPES, normalise_event_type

FORMATS = ("raw", "rees46", "retailrocket", "shopify-orders")
RAW_TABLES = ("users", "products", "interactions")
NIL = np.zeros(16, dtype=np.uint8)

# (format, role) -> (required columns, optional columns); names compared case-insensitively.
COLUMNS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("raw", "interactions"): (
        ("user_id", "product_id", "event_type", "occurred_at"),
        ("event_id", "session_id", "quantity", "unit_price", "order_id", "recommendation_variant", "loaded_at"),
    ),
    ("raw", "users"): (("user_id", "signup_at"), ("email", "full_name", "country", "channel")),
    ("raw", "products"): (("product_id",), ("sku", "name", "category", "brand", "price", "created_at", "updated_at")),
    ("rees46", "events"): (
        ("event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id",
         "user_session"),
        (),
    ),
    ("retailrocket", "events"): (("timestamp", "visitorid", "event", "itemid", "transactionid"), ()),
    ("retailrocket", "item_properties"): (("timestamp", "itemid", "property", "value"), ()),
    ("retailrocket", "category_tree"): (("categoryid", "parentid"), ()),
    ("shopify-orders", "orders"): (
        ("name", "email", "created at", "lineitem quantity", "lineitem name", "lineitem price", "lineitem sku"),
        ("billing country", "billing name", "vendor"),
    ),
}
# Recognition order for `auto`: the most specific headers first.
_DETECT_ORDER = (
    ("rees46", "events"), ("shopify-orders", "orders"), ("retailrocket", "events"),
    ("retailrocket", "item_properties"), ("retailrocket", "category_tree"),
    ("raw", "interactions"), ("raw", "products"), ("raw", "users"),
)


def describe_formats() -> str:
    lines = []
    for (fmt, role), (required, optional) in COLUMNS.items():
        extra = f" (optional: {', '.join(optional)})" if optional else ""
        lines.append(f"  {fmt} {role}: {', '.join(required)}{extra}")
    return "\n".join(lines)


def _has(header: set[str], role: tuple[str, str]) -> bool:
    return set(COLUMNS[role][0]) <= header


def role_for(columns: tuple[str, ...], file_name: str, fmt: str, table: str | None) -> tuple[str, str]:
    """Which (format, role) a file is: from --format/--table, the file name's prefix, or the header."""
    header = {c.strip().lower() for c in columns}
    if fmt == "auto":
        if table is not None:
            candidates = [("raw", table)]
        else:
            candidates = [r for r in _DETECT_ORDER if _has(header, r)]
        if not candidates or not _has(header, candidates[0]):
            raise UnknownFormat(
                f"{file_name}: the header ({', '.join(columns)}) matches no format I know. "
                f"The formats and their columns:\n{describe_formats()}"
            )
        return candidates[0]
    if fmt == "raw":
        if table is None:
            stem = file_name.lower().rsplit("/", 1)[-1]
            table = next((t for t in RAW_TABLES if stem.startswith(t)), None)
            if table is None:
                table = next((r[1] for r in _DETECT_ORDER if r[0] == "raw" and _has(header, r)), None)
            if table is None:
                raise MissingColumns(
                    f"{file_name}: which raw table is it? Name the file users*, products* or interactions*, "
                    "or pass --table."
                )
        role = ("raw", table)
    else:
        roles = [r for r in COLUMNS if r[0] == fmt]
        matching = [r for r in roles if _has(header, r)]
        if not matching:
            expected = "; ".join(f"{r[1]}: {', '.join(COLUMNS[r][0])}" for r in roles)
            raise MissingColumns(f"{file_name} is not a {fmt} file: its header ({', '.join(columns)}) lacks "
                                 f"columns. Expected {expected}.")
        role = matching[0]
    missing = [c for c in COLUMNS[role][0] if c not in header]
    if missing:
        raise MissingColumns(f"{file_name}: a {role[0]} {role[1]} file needs the columns {', '.join(missing)} "
                             f"(it has {', '.join(columns)}).")
    return role


# ---------------------------------------------------------------------------------------------------
# What a batch becomes

USER_STAGE = pa.schema([
    ("user_id", pa.int64()), ("email", pa.string()), ("full_name", pa.string()), ("country", pa.string()),
    ("channel", pa.string()), ("signup_at", pa.timestamp("us", tz="UTC")),
    ("first_seen", pa.timestamp("us", tz="UTC")), ("last_seen", pa.timestamp("us", tz="UTC")),
    ("authoritative", pa.bool_()),
])
PRODUCT_STAGE = pa.schema([
    ("product_id", pa.int64()), ("sku", pa.string()), ("name", pa.string()), ("category", pa.string()),
    ("brand", pa.string()), ("price_cents", pa.int64()), ("created_at", pa.timestamp("us", tz="UTC")),
    ("updated_at", pa.timestamp("us", tz="UTC")), ("first_seen", pa.timestamp("us", tz="UTC")),
    ("last_seen", pa.timestamp("us", tz="UTC")), ("authoritative", pa.bool_()),
])
PROPERTY_STAGE = pa.schema([("itemid", pa.int64()), ("at", pa.timestamp("us", tz="UTC")), ("categoryid", pa.string())])
TREE_STAGE = pa.schema([("categoryid", pa.string()), ("parentid", pa.string())])


@dataclass
class EventRows:
    """Rows for raw.interactions (shopcore.copy_binary.InteractionRows). A nil session_id means
    "derive it" (the session rule), a purchase without an order gets one per session and user."""

    event_id: np.ndarray
    session_id: np.ndarray
    user_id: np.ndarray
    product_id: np.ndarray
    event_type: np.ndarray
    quantity: np.ndarray
    unit_price_cents: np.ndarray
    has_unit_price: np.ndarray
    has_order: np.ndarray
    order_id: np.ndarray
    recommendation_variant: np.ndarray
    occurred_at: np.ndarray
    loaded_at: np.ndarray

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass
class Prepared:
    rows: int
    events: EventRows | None = None
    users: pa.Table | None = None
    products: pa.Table | None = None
    properties: pa.Table | None = None
    tree: pa.Table | None = None
    # users seen with attributes (Shopify); every event's user is derived from the events in SQL
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (row in batch, reason)
    skipped: Counter = field(default_factory=Counter)
    sessionless: bool = False


class Checks:
    """The first reason each row fails, in the order the checks are made."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)

    def fail(self, bad: np.ndarray, reason: str) -> None:
        self.reason[bad & (self.reason == None)] = reason  # noqa: E711 (element-wise)

    @property
    def ok(self) -> np.ndarray:
        return self.reason == None  # noqa: E711

    def rejects(self) -> list[tuple[int, str]]:
        bad = np.flatnonzero(~self.ok)
        return [(int(i), str(self.reason[i])) for i in bad]


def _ts(values_us: np.ndarray) -> pa.Array:
    return pa.array(values_us.astype("datetime64[us]"), pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))


def _event_types(raw: pa.Array) -> np.ndarray:
    return np.array([normalise_event_type(v) if v else "" for v in raw.to_pylist()], dtype=object)


def _make_events(ok: np.ndarray, *, event_id, session_id, user_id, product_id, event_type, quantity, price_cents,
                 has_price, order_id, has_order, variant, occurred_at, now) -> EventRows:
    n = int(ok.sum())
    return EventRows(
        event_id=event_id[ok], session_id=session_id[ok], user_id=user_id[ok], product_id=product_id[ok],
        event_type=event_type[ok], quantity=quantity[ok].astype(np.int32), unit_price_cents=price_cents[ok],
        has_unit_price=has_price[ok], has_order=has_order[ok], order_id=order_id[ok],
        recommendation_variant=variant[ok] if variant is not None else np.full(n, None, dtype=object),
        occurred_at=occurred_at[ok], loaded_at=np.full(n, now, dtype="datetime64[us]"),
    )


def _seen_products(ok: np.ndarray, product_id: np.ndarray, at: np.ndarray, *, price_cents=None, has_price=None,
                   sku=None, name=None, category=None, brand=None) -> pa.Table:
    """Per product of the batch: the newest non-blank attributes seen, first and last time seen."""
    n = int(ok.sum())
    nulls = pa.nulls(n, pa.string())
    sel = pa.array(ok)

    def pick(column):
        return nulls if column is None else pc.filter(column, sel)

    price = pa.nulls(n, pa.int64()) if price_cents is None else pa.array(
        np.where(has_price, price_cents, 0)[ok], pa.int64(), mask=~(has_price & (price_cents > 0))[ok])
    table = pa.table({
        "product_id": pa.array(product_id[ok]), "sku": pick(sku), "name": pick(name), "category": pick(category),
        "brand": pick(brand), "price_cents": price, "at": _ts(at[ok]),
    }).sort_by([("at", "ascending")])
    grouped = table.group_by("product_id", use_threads=False).aggregate([
        ("sku", "last"), ("name", "last"), ("category", "last"), ("brand", "last"), ("price_cents", "last"),
        ("at", "min"), ("at", "max"),
    ])
    m = grouped.num_rows
    return pa.table({
        "product_id": grouped["product_id"], "sku": grouped["sku_last"], "name": grouped["name_last"],
        "category": grouped["category_last"], "brand": grouped["brand_last"],
        "price_cents": grouped["price_cents_last"], "created_at": pa.nulls(m, pa.timestamp("us", tz="UTC")),
        "updated_at": pa.nulls(m, pa.timestamp("us", tz="UTC")), "first_seen": grouped["at_min"],
        "last_seen": grouped["at_max"], "authoritative": pa.array(np.zeros(m, dtype=bool)),
    }, schema=PRODUCT_STAGE)


def _seen_users(ok: np.ndarray, user_id: np.ndarray, at: np.ndarray, *, email=None, full_name=None,
                country=None) -> pa.Table:
    n = int(ok.sum())
    nulls = pa.nulls(n, pa.string())
    sel = pa.array(ok)

    def pick(column):
        return nulls if column is None else pc.filter(column, sel)

    table = pa.table({"user_id": pa.array(user_id[ok]), "email": pick(email), "full_name": pick(full_name),
                      "country": pick(country), "at": _ts(at[ok])}).sort_by([("at", "ascending")])
    grouped = table.group_by("user_id", use_threads=False).aggregate([
        ("email", "last"), ("full_name", "last"), ("country", "last"), ("at", "min"), ("at", "max"),
    ])
    m = grouped.num_rows
    return pa.table({
        "user_id": grouped["user_id"], "email": grouped["email_last"], "full_name": grouped["full_name_last"],
        "country": grouped["country_last"], "channel": pa.nulls(m, pa.string()),
        "signup_at": pa.nulls(m, pa.timestamp("us", tz="UTC")), "first_seen": grouped["at_min"],
        "last_seen": grouped["at_max"], "authoritative": pa.array(np.zeros(m, dtype=bool)),
    }, schema=USER_STAGE)


class Parser:
    """Parses one file's batches; keeps the little state a format needs across batches."""

    def __init__(self, role: tuple[str, str], columns: tuple[str, ...], now: np.datetime64) -> None:
        self.role = role
        self.now = now
        self.names = {c.strip().lower(): c for c in columns}
        self.state: dict = {}
        self.parse: Callable[[dict[str, pa.Array], int], Prepared] = {
            ("raw", "interactions"): self._raw_interactions,
            ("raw", "users"): self._raw_users,
            ("raw", "products"): self._raw_products,
            ("rees46", "events"): self._rees46,
            ("retailrocket", "events"): self._retailrocket_events,
            ("retailrocket", "item_properties"): self._retailrocket_properties,
            ("retailrocket", "category_tree"): self._retailrocket_tree,
            ("shopify-orders", "orders"): self._shopify,
        }[role]

    def __call__(self, batch: pa.RecordBatch) -> Prepared:
        by_name = {name.strip().lower(): batch.column(i) for i, name in enumerate(batch.schema.names)}
        return self.parse(by_name, batch.num_rows)

    # -- raw ----------------------------------------------------------------------------------------

    def _raw_interactions(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        nulls = pa.nulls(n, pa.string())
        user_id, ok = values.parse_int(c["user_id"])
        checks.fail(values.blank(c["user_id"]), "missing user_id")
        checks.fail(~ok, "user_id is not a whole number")
        product_id, ok = values.parse_int(c["product_id"])
        checks.fail(values.blank(c["product_id"]), "missing product_id")
        checks.fail(~ok, "product_id is not a whole number")
        event_type = _event_types(c["event_type"])
        checks.fail(~np.isin(event_type, EVENT_TYPES), "unknown event_type")
        occurred_at, ok = values.parse_iso_timestamps(c["occurred_at"])
        checks.fail(values.blank(c["occurred_at"]), "missing occurred_at")
        checks.fail(~ok, "occurred_at is not an ISO date-time with a zone")
        quantity_text = c.get("quantity", nulls)
        quantity, ok = values.parse_int(quantity_text)
        no_quantity = values.blank(quantity_text)
        quantity = np.where(no_quantity, 1, quantity)  # default: one unit
        checks.fail(~no_quantity & (~ok | (quantity < 1) | (quantity > 2_147_483_647)), "quantity is not a whole number >= 1")
        price_text = c.get("unit_price", nulls)
        price_cents, ok = values.parse_money(price_text)
        has_price = ~values.blank(price_text)
        checks.fail(has_price & ~ok, "unit_price is not a price (0 to 99999999.99)")
        if "event_id" in c:
            event_id, ok = ids.parse_uuids(c["event_id"])
            checks.fail(~ok, "event_id is not a uuid")
        else:  # no id column: derived from the row, so a second import of the file adds nothing
            event_id = ids.uuid5_many(ids.namespace("raw event"), ids.row_names([c[k] for k in sorted(c)]))
        session_text = c.get("session_id", nulls)
        session_id, ok = ids.parse_uuids(session_text)
        no_session = values.blank(session_text)
        checks.fail(~no_session & ~ok, "session_id is not a uuid")
        order_text = c.get("order_id", nulls)
        order_id, ok = ids.parse_uuids(order_text)
        has_order = ~values.blank(order_text)
        checks.fail(has_order & ~ok, "order_id is not a uuid")
        variant = values.text(c["recommendation_variant"]).to_numpy(zero_copy_only=False) \
            if "recommendation_variant" in c else None
        good = checks.ok
        events = _make_events(good, event_id=event_id, session_id=session_id, user_id=user_id, product_id=product_id,
                              event_type=event_type, quantity=quantity, price_cents=price_cents, has_price=has_price,
                              order_id=order_id, has_order=has_order, variant=variant, occurred_at=occurred_at,
                              now=self.now)
        return Prepared(
            rows=n, events=events, rejects=checks.rejects(), sessionless=bool((no_session & good).any()),
            products=_seen_products(good, product_id, occurred_at, price_cents=price_cents, has_price=has_price),
        )

    def _raw_users(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        nulls = pa.nulls(n, pa.string())
        user_id, ok = values.parse_int(c["user_id"])
        checks.fail(values.blank(c["user_id"]), "missing user_id")
        checks.fail(~ok, "user_id is not a whole number")
        signup, ok = values.parse_iso_timestamps(c["signup_at"])
        checks.fail(values.blank(c["signup_at"]), "missing signup_at")
        checks.fail(~ok, "signup_at is not an ISO date-time with a zone")
        country = pc.utf8_upper(values.text(c.get("country", nulls)))
        bad_country = values.mask(pc.invert(pc.match_substring_regex(country, r"^[A-Z]{2}$")))
        checks.fail(bad_country & ~values.blank(country), "country is not an ISO 3166-1 alpha-2 code")
        good = checks.ok
        sel = pa.array(good)
        m = int(good.sum())
        table = pa.table({
            "user_id": pa.array(user_id[good]),
            "email": pc.filter(values.text(c.get("email", nulls)), sel),
            "full_name": pc.filter(values.text(c.get("full_name", nulls)), sel),
            "country": pc.filter(country, sel),
            "channel": pc.filter(values.text(c.get("channel", nulls)), sel),
            "signup_at": _ts(signup[good]), "first_seen": _ts(signup[good]), "last_seen": _ts(signup[good]),
            "authoritative": pa.array(np.ones(m, dtype=bool)),
        }, schema=USER_STAGE)
        return Prepared(rows=n, users=table, rejects=checks.rejects())

    def _raw_products(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        nulls = pa.nulls(n, pa.string())
        product_id, ok = values.parse_int(c["product_id"])
        checks.fail(values.blank(c["product_id"]), "missing product_id")
        checks.fail(~ok, "product_id is not a whole number")
        price_text = c.get("price", nulls)
        price, ok = values.parse_money(price_text)
        has_price = ~values.blank(price_text)
        checks.fail(has_price & (~ok | (price <= 0)), "price is not a price above 0")
        stamps = {}
        for column in ("created_at", "updated_at"):
            text = c.get(column, nulls)
            stamp, ok = values.parse_iso_timestamps(text)
            missing = values.blank(text)
            checks.fail(~missing & ~ok, f"{column} is not an ISO date-time with a zone")
            stamps[column] = np.where(missing, self.now, stamp)  # default: the import's start
        good = checks.ok
        sel = pa.array(good)
        m = int(good.sum())
        table = pa.table({
            "product_id": pa.array(product_id[good]),
            "sku": pc.filter(values.text(c.get("sku", nulls)), sel),
            "name": pc.filter(values.text(c.get("name", nulls)), sel),
            "category": pc.filter(values.text(c.get("category", nulls)), sel),
            "brand": pc.filter(values.text(c.get("brand", nulls)), sel),
            "price_cents": pa.array(price[good], pa.int64(), mask=~has_price[good]),
            "created_at": _ts(stamps["created_at"][good]), "updated_at": _ts(stamps["updated_at"][good]),
            "first_seen": _ts(stamps["created_at"][good]), "last_seen": _ts(stamps["updated_at"][good]),
            "authoritative": pa.array(np.ones(m, dtype=bool)),
        }, schema=PRODUCT_STAGE)
        return Prepared(rows=n, products=table, rejects=checks.rejects())

    # -- REES46 (eCommerce behavior data from multi category store) -----------------------------------

    _REES46_TYPES = {"view": "view", "cart": "add_to_cart", "purchase": "purchase"}

    def _rees46(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        skipped: Counter = Counter()
        kind = pc.utf8_lower(pc.utf8_trim_whitespace(c["event_type"]))
        removal = values.mask(pc.equal(kind, "remove_from_cart"))
        event_type = np.array([self._REES46_TYPES.get(v, "") for v in kind.to_pylist()], dtype=object)
        checks.fail((event_type == "") & ~removal, "unknown event_type")
        occurred_at, ok = values.parse_timestamps(c["event_time"], "%Y-%m-%d %H:%M:%S UTC")
        checks.fail(~ok, "event_time is not like 2019-10-01 00:00:04 UTC")
        user_id, ok = values.parse_int(c["user_id"])
        checks.fail(~ok, "user_id is not a whole number")
        product_id, ok = values.parse_int(c["product_id"])
        checks.fail(~ok, "product_id is not a whole number")
        price_cents, ok = values.parse_money(c["price"])
        no_price = values.blank(c["price"])
        checks.fail(~no_price & ~ok, "price is not a price (0 to 99999999.99)")
        has_price = ~no_price & ok & (price_cents > 0)  # REES46 writes 0 for an unknown price
        session_id, has_session = ids.parse_uuids(c["user_session"])  # missing or odd: the session rule
        # remove_from_cart has no raw event type: counted and skipped, never rejected
        skip = removal & checks.ok
        if skip.any():
            skipped["remove_from_cart (no raw event type)"] = int(skip.sum())
        good = checks.ok & ~removal
        event_id = ids.uuid5_many(ids.namespace("rees46 event"), ids.row_names(
            [c[k] for k in COLUMNS[("rees46", "events")][0]]))
        events = _make_events(good, event_id=event_id, session_id=session_id, user_id=user_id,
                              product_id=product_id, event_type=event_type, quantity=np.ones(n, dtype=np.int32),
                              price_cents=price_cents, has_price=has_price, order_id=np.zeros((n, 16), np.uint8),
                              has_order=np.zeros(n, dtype=bool), variant=None, occurred_at=occurred_at,
                              now=self.now)
        return Prepared(
            rows=n, events=events, rejects=checks.rejects(), skipped=skipped,
            sessionless=bool((good & ~has_session).any()),
            products=_seen_products(good, product_id, occurred_at, price_cents=price_cents, has_price=has_price,
                                    category=pc.utf8_lower(values.text(c["category_code"])),
                                    brand=values.text(c["brand"])),
        )

    # -- RetailRocket -----------------------------------------------------------------------------------

    _RR_TYPES = {"view": "view", "addtocart": "add_to_cart", "transaction": "purchase"}

    def _retailrocket_events(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        occurred_at, ok = values.parse_epoch_ms(c["timestamp"])
        checks.fail(~ok, "timestamp is not milliseconds since 1970")
        user_id, ok = values.parse_int(c["visitorid"])
        checks.fail(~ok, "visitorid is not a whole number")
        product_id, ok = values.parse_int(c["itemid"])
        checks.fail(~ok, "itemid is not a whole number")
        kind = pc.utf8_lower(pc.utf8_trim_whitespace(c["event"]))
        event_type = np.array([self._RR_TYPES.get(v, "") for v in kind.to_pylist()], dtype=object)
        checks.fail(event_type == "", "unknown event")
        transaction = values.text(c["transactionid"])
        has_order = ~values.blank(c["transactionid"]) & (event_type == "purchase")
        order_id = ids.uuid5_many(ids.namespace("retailrocket transaction"), ids.row_names([transaction]))
        good = checks.ok
        event_id = ids.uuid5_many(ids.namespace("retailrocket event"), ids.row_names(
            [c[k] for k in COLUMNS[("retailrocket", "events")][0]]))
        events = _make_events(good, event_id=event_id, session_id=np.zeros((n, 16), np.uint8), user_id=user_id,
                              product_id=product_id, event_type=event_type, quantity=np.ones(n, dtype=np.int32),
                              price_cents=np.zeros(n, np.int64), has_price=np.zeros(n, dtype=bool),
                              order_id=order_id, has_order=has_order, variant=None, occurred_at=occurred_at,
                              now=self.now)
        return Prepared(rows=n, events=events, rejects=checks.rejects(), sessionless=bool(good.any()),
                        products=_seen_products(good, product_id, occurred_at))

    def _retailrocket_properties(self, c: dict[str, pa.Array], n: int) -> Prepared:
        # Only `categoryid` matters to the raw contract; other properties (hashed values,
        # `available`) have no raw column and are passed over (counted).
        prop = pc.utf8_trim_whitespace(c["property"])
        wanted = values.mask(pc.equal(prop, "categoryid"))
        skipped = Counter()
        if (~wanted).any():
            skipped["item property other than categoryid (no raw column)"] = int((~wanted).sum())
        checks = Checks(n)
        at, ok = values.parse_epoch_ms(c["timestamp"])
        checks.fail(wanted & ~ok, "timestamp is not milliseconds since 1970")
        item, ok = values.parse_int(c["itemid"])
        checks.fail(wanted & ~ok, "itemid is not a whole number")
        category = values.text(c["value"])
        checks.fail(wanted & values.blank(c["value"]), "categoryid without a value")
        good = checks.ok & wanted
        table = pa.table({"itemid": pa.array(item[good]), "at": _ts(at[good]),
                          "categoryid": pc.filter(category, pa.array(good))}, schema=PROPERTY_STAGE)
        return Prepared(rows=n, properties=table, rejects=checks.rejects(), skipped=skipped)

    def _retailrocket_tree(self, c: dict[str, pa.Array], n: int) -> Prepared:
        checks = Checks(n)
        _, ok = values.parse_int(c["categoryid"])
        checks.fail(~ok, "categoryid is not a whole number")
        _, ok = values.parse_int(c["parentid"])
        checks.fail(~values.blank(c["parentid"]) & ~ok, "parentid is not a whole number")
        good = pa.array(checks.ok)
        table = pa.table({"categoryid": pc.filter(values.text(c["categoryid"]), good),
                          "parentid": pc.filter(values.text(c["parentid"]), good)}, schema=TREE_STAGE)
        return Prepared(rows=n, tree=table, rejects=checks.rejects())

    # -- Shopify "Export orders" -------------------------------------------------------------------------

    def _shopify(self, c: dict[str, pa.Array], n: int) -> Prepared:
        nulls = pa.nulls(n, pa.string())
        name = values.text(c["name"]).to_numpy(zero_copy_only=False)
        created_text = c["created at"]
        first_row = ~values.blank(created_text)  # order fields are on an order's first row only
        created, created_ok = values.parse_timestamps(created_text, "%Y-%m-%d %H:%M:%S %z")
        email = values.text(c["email"]).to_numpy(zero_copy_only=False)
        country = pc.utf8_upper(values.text(c.get("billing country", nulls))).to_numpy(zero_copy_only=False)
        billing_name = values.text(c.get("billing name", nulls)).to_numpy(zero_copy_only=False)
        # Carry each order's fields down to its other line items (and across batches).
        carried = self.state.get("order")  # (name, created, created_ok, email, country, billing name)
        src = np.where(first_row, np.arange(n), -1)
        src = np.maximum.accumulate(src) if n else src
        order_name = np.empty(n, dtype=object)
        o_created = np.zeros(n, dtype="datetime64[us]")
        o_ok = np.zeros(n, dtype=bool)
        o_email = np.full(n, None, dtype=object)
        o_country = np.full(n, None, dtype=object)
        o_billing = np.full(n, None, dtype=object)
        has = src >= 0
        idx = src[has]
        order_name[has], o_created[has], o_ok[has] = name[idx], created[idx], created_ok[idx]
        o_email[has], o_country[has], o_billing[has] = email[idx], country[idx], billing_name[idx]
        if carried is not None and (~has).any():
            order_name[~has], o_created[~has], o_ok[~has] = carried[0], carried[1], carried[2]
            o_email[~has], o_country[~has], o_billing[~has] = carried[3], carried[4], carried[5]
        if n:
            self.state["order"] = (order_name[-1], o_created[-1], o_ok[-1], o_email[-1], o_country[-1], o_billing[-1])
        checks = Checks(n)
        checks.fail(np.array([v is None for v in name], dtype=bool), "missing Name (the order number)")
        checks.fail(order_name != name, "line item before its order's first row (Created at missing)")
        checks.fail(first_row & ~created_ok, "Created at is not like 2024-01-15 10:23:45 -0500")
        quantity, ok = values.parse_int(c["lineitem quantity"])
        checks.fail(~ok | (quantity < 1) | (quantity > 2_147_483_647), "Lineitem quantity is not a whole number >= 1")
        price_cents, ok = values.parse_money(c["lineitem price"])
        checks.fail(~ok, "Lineitem price is not a price (0 to 99999999.99)")
        sku = values.text(c["lineitem sku"])
        item_name = values.text(c["lineitem name"])
        key = pc.if_else(pc.is_null(sku), pc.binary_join_element_wise("name:", pc.fill_null(item_name, ""), ""),
                         pc.binary_join_element_wise("sku:", sku, ""))
        checks.fail(values.blank(c["lineitem sku"]) & values.blank(c["lineitem name"]),
                    "line item without Lineitem sku or Lineitem name")
        # Line position inside its order: the event's identity with the order number.
        line_no = np.zeros(n, dtype=np.int64)
        last_name, count = self.state.get("line", (None, 0))
        for i, order in enumerate(order_name.tolist()):
            count = count + 1 if order == last_name else 1
            last_name = order
            line_no[i] = count
        self.state["line"] = (last_name, count)
        order_names = pa.array([o if o is not None else "" for o in order_name.tolist()], pa.string())
        # Customers by e-mail (lower-cased); an order without an e-mail is a customer of its own.
        email_key = pa.array([("email:" + e.lower()) if e else ("order:" + (o or "")) for e, o in
                              zip(o_email.tolist(), order_name.tolist())], pa.string())
        user_id = ids.stable_int64(ids.namespace("shopify customer"), pc.cast(email_key, pa.binary()).to_pylist())
        product_id = ids.stable_int64(ids.namespace("shopify product"), pc.cast(key, pa.binary()).to_pylist())
        order_id = ids.uuid5_many(ids.namespace("shopify order"), ids.row_names([order_names]))
        event_id = ids.uuid5_many(ids.namespace("shopify line item"), ids.row_names([order_names, pa.array(line_no)]))
        good = checks.ok
        events = _make_events(good, event_id=event_id, session_id=np.zeros((n, 16), np.uint8), user_id=user_id,
                              product_id=product_id, event_type=np.full(n, "purchase", dtype=object),
                              quantity=quantity, price_cents=price_cents, has_price=np.ones(n, dtype=bool),
                              order_id=order_id, has_order=np.ones(n, dtype=bool), variant=None,
                              occurred_at=o_created, now=self.now)
        country_arr = pa.array(o_country, pa.string())
        country_arr = pc.if_else(pc.match_substring_regex(country_arr, r"^[A-Z]{2}$"), country_arr,
                                 pa.scalar(None, pa.string()))
        return Prepared(
            rows=n, events=events, rejects=checks.rejects(), sessionless=bool(good.any()),
            users=_seen_users(good, user_id, o_created, email=pc.utf8_lower(pa.array(o_email, pa.string())),
                              full_name=pa.array(o_billing, pa.string()), country=country_arr),
            products=_seen_products(good, product_id, o_created, price_cents=price_cents,
                                    has_price=np.ones(n, dtype=bool), sku=sku, name=item_name,
                                    brand=values.text(c.get("vendor", nulls))),
        )


ROLE_ORDER = {  # within an import: attributes and trees before the events that use them
    "category_tree": 0, "item_properties": 1, "users": 2, "products": 3, "interactions": 4, "events": 4, "orders": 4,
}
