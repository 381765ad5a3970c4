"""Small source files in each format, written by the tests themselves."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

REES46_HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
S1 = "72d76fde-8bb3-4e00-8c23-a032dfed738c"
S2 = "9333dfbd-b87a-4708-9857-6336556b0fcc"
REES46_ROWS = [
    f"2019-10-01 00:00:04 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,{S1}",
    f"2019-10-01 00:00:05 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,{S2}",
    f"2019-10-01 00:01:05 UTC,purchase,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,{S2}",
    f"2019-10-01 00:01:06 UTC,purchase,1004767,2053013555631882655,electronics.smartphone,samsung,254.82,554748717,{S2}",
    f"2019-10-01 00:02:05 UTC,remove_from_cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,{S2}",
    '2019-10-01 00:02:06 UTC,view,17200506,2053013559792632471,"furniture.living_room,sofa",,0,513351129,',
]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rees46(path: Path, rows: list[str] = REES46_ROWS, newline: str = "\n") -> Path:
    return write(path, newline.join([REES46_HEADER, *rows]) + newline)


RR_EVENTS = "\n".join([
    "timestamp,visitorid,event,itemid,transactionid",
    "1433221332117,257597,view,355908,",
    "1433221332117,257597,view,355908,",  # an exact duplicate: one event
    "1433222000000,257597,addtocart,248676,",
    "1433222100000,257597,transaction,248676,4000",
    "1433230000000,257597,view,355908,",  # 2 hours later: a new session
    "1433224214164,992329,view,248676,",
]) + "\n"
RR_PROPERTIES = "\n".join([
    "timestamp,itemid,property,value",
    "1431226800000,355908,categoryid,1016",
    "1433300000000,355908,categoryid,1017",  # after its events: not the category at event time
    "1431226800000,248676,available,1",
    "1431226800000,248676,categoryid,1017",
    "1431226800000,248676,790,n5.000",
]) + "\n"
RR_TREE = "categoryid,parentid\n1016,213\n1017,213\n213,\n"


SHOPIFY_HEADER = ["Name", "Email", "Financial Status", "Created at", "Lineitem quantity", "Lineitem name",
                  "Lineitem price", "Lineitem sku", "Billing Name", "Billing Country", "Vendor", "Notes"]


def shopify(path: Path) -> Path:
    rows = [
        ["#1001", "Ann@Example.com", "paid", "2024-01-15 10:23:45 -0500", "2", "Blue mug", "12.50", "MUG-1",
         "Ann Lee", "US", "Acme", "leave at\nthe door, please"],
        ["#1001", "", "", "", "1", "Tea", "4.00", "TEA-1", "", "", "", ""],
        ["#1002", "ann@example.com", "paid", "2024-01-15 10:40:00 -0500", "1", "Tea", "4.20", "TEA-1",
         "Ann Lee", "US", "", ""],
        ["#1003", "", "paid", "2024-02-01 09:00:00 +0100", "1", "Gift card", "25.00", "", "Bo", "DE", "", ""],
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHOPIFY_HEADER)
        writer.writerows(rows)
    return path


def raw_files(directory: Path) -> list[Path]:
    users = write(directory / "users.csv", "user_id,email,full_name,country,channel,signup_at\n"
                  "1,a@x.com,A B,FR,organic,2024-01-01T00:00:00Z\n2,,,,,2024-01-02 00:00:00+01:00\n")
    products = directory / "products_2024.csv.gz"
    with gzip.open(products, "wt", encoding="utf-8") as handle:
        handle.write("product_id,sku,name,category,brand,price\n10,S10,Mug,Kitchen,Acme,9.99\n11,,,,,\n")
    interactions = write(directory / "interactions.csv", "\n".join([
        "event_id,session_id,user_id,product_id,event_type,quantity,unit_price,order_id,occurred_at",
        "00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-0000000000aa,1,10,view,1,9.99,,2024-01-03T10:00:00Z",
        "00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-0000000000aa,1,10,view,1,9.99,,2024-01-03T10:00:00Z",
        "00000000-0000-0000-0000-000000000002,00000000-0000-0000-0000-0000000000aa,1,10,Add To Cart,1,9.99,,2024-01-03T10:01:00Z",
        "00000000-0000-0000-0000-000000000003,00000000-0000-0000-0000-0000000000aa,1,10,purchase,2,9.99,00000000-0000-0000-0000-0000000000f1,2024-01-03T10:02:00Z",
        "00000000-0000-0000-0000-000000000004,00000000-0000-0000-0000-0000000000bb,3,12,view,,,,2024-01-04T10:00:00Z",
    ]) + "\n")
    return [users, products, interactions]


def big_rees46(path: Path, rows: int, seed: int = 7) -> Path:
    """A REES46-layout file of `rows` generated events (for kill tests and benchmarks), written in blocks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rng = np.random.default_rng(seed)
    block = 500_000
    start = np.datetime64("2019-10-01T00:00:00", "s")
    with pa_csv.CSVWriter(path, pa.schema([(c, pa.string()) for c in REES46_HEADER.split(",")])) as writer:
        for offset in range(0, rows, block):
            n = min(block, rows - offset)
            seconds = np.sort(rng.integers(0, 30 * 86400, n)) + offset
            times = pa.array((start + seconds).astype(str)).cast(pa.string())
            times = pa.compute.binary_join_element_wise(pa.compute.replace_substring(times, "T", " "), " UTC", "")
            kinds = rng.choice(np.array(["view", "cart", "purchase", "remove_from_cart"]), n, p=[0.9, 0.06, 0.03, 0.01])
            product = rng.integers(1_000_000, 1_050_000, n)
            user = rng.integers(500_000_000, 500_300_000, n)
            price = (rng.integers(100, 100_000, n) / 100).round(2)
            session = [str(uuid) for uuid in _uuids(rng, n)]
            writer.write_table(pa.table({
                "event_time": times, "event_type": pa.array(kinds),
                "product_id": pa.array(product.astype(str)), "category_id": pa.array((product % 97).astype(str)),
                "category_code": pa.array(np.char.add("cat.", (product % 31).astype(str))),
                "brand": pa.array(np.char.add("b", (product % 53).astype(str))),
                "price": pa.array(price.astype(str)), "user_id": pa.array(user.astype(str)),
                "user_session": pa.array(session),
            }).cast(pa.schema([(c, pa.string()) for c in REES46_HEADER.split(",")])))
    return path


def _uuids(rng, n):
    import uuid

    raw = rng.bytes(16 * n)
    return (uuid.UUID(bytes=raw[i * 16:(i + 1) * 16]) for i in range(n))


def odd_rees46(path: Path, *, users: int, days: float, events_per_user: int, visits: int = 1, categories: int = 3,
               brands: bool = True, price: str | None = None, products: int = 20, seed: int = 3) -> Path:
    """A small REES46 file shaped unlike the simulator: `users` visitors over `days` days, each with
    `visits` sessions of `events_per_user` events (views, carts, purchases) at random times.
    One category and no brands, one price, visitors who come once, a week or two years of history."""
    import random

    rng = random.Random(seed)
    start = 1_704_067_200  # 2024-01-01 00:00:00 UTC
    rows = []
    for user, visit in ((u, v) for u in range(users) for v in range(visits)):
        at = start + int(rng.random() * days * 86_400)
        session = f"00000000-0000-4000-{visit:04d}-{user:012d}"
        for step in range(events_per_user):
            product = 1_000 + rng.randrange(products)
            kind = ("view", "cart", "purchase")[min(step % 4, 2)] if step else "view"
            category = f"cat{product % categories}.things"
            brand = f"brand{product % 5}" if brands else ""
            rows.append((at + step * 30, kind, product, product % categories, category, brand,
                         price or f"{5 + product % 17}.99", 500_000 + user, session))
    rows.sort()
    lines = [f"{_utc(at)},{kind},{product},{cid},{category},{brand},{cost},{user},{session}"
             for at, kind, product, cid, category, brand, cost, user, session in rows]
    return rees46(path, lines)


def _utc(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def shopify_orders(path: Path, *, orders: int, customers: int, days: int, seed: int = 5) -> Path:
    """A Shopify orders export: purchases only, one to three line items per order."""
    import random

    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHOPIFY_HEADER)
        for number in range(orders):
            day = 1 + number * days // orders
            created = f"2024-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d} 10:00:00 +0000"
            email = f"customer{rng.randrange(customers)}@example.com"
            for line in range(rng.randrange(1, 4)):
                sku = f"SKU-{rng.randrange(12)}"
                first = line == 0
                writer.writerow([f"#{1000 + number}", email if first else "", "paid" if first else "",
                                 created if first else "", "1", f"Item {sku}", f"{3 + int(sku[4:]) * 2}.50", sku,
                                 "", "FR" if first else "", "", ""])
    return path


def big_catalogue(path: Path, products: int) -> Path:
    """A raw products file of `products` rows (ids 1000 up), for a catalogue far larger than its history."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("product_id,sku,name,category,brand,price\n")
        for i in range(products):
            pid = 1_000 + i
            handle.write(f"{pid},SK{pid},Item {pid},cat{pid % 3}.things,brand{pid % 5},{5 + pid % 17}.99\n")
    return path
