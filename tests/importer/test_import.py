"""`shop import` against a real PostgreSQL: every format, detection, rejects, re-imports, dry runs."""

from __future__ import annotations

import gzip
import json
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support import run_shop

from . import files


def counts(db) -> dict[str, int]:
    with db.connect() as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("raw.interactions", "raw.users", "raw.products", "raw.rejected_rows", "shop_meta.imports")}


def shop_import(db, *args, check=True):
    result = run_shop("import", *map(str, args), env=db.env, check=check)
    result.text = " ".join((result.stdout + result.stderr).split())
    return result


def test_rees46_round_trip_then_reimport_adds_nothing(fresh_database, tmp_path):
    path = files.rees46(tmp_path / "2019-Oct.csv")
    out = shop_import(fresh_database, path).text
    assert "rees46 events" in out
    assert "added 5 new events, 0 already present" in out
    assert "remove_from_cart (no raw event type)" in out
    with fresh_database.connect() as conn:
        rows = conn.execute("select event_type, user_id, product_id, unit_price, order_id, session_id "
                            "from raw.interactions order by occurred_at").fetchall()
        assert [r[0] for r in rows] == ["view", "add_to_cart", "purchase", "purchase", "view"]
        assert rows[1][5] == uuid.UUID(files.S2)
        assert rows[2][4] is not None and rows[2][4] == rows[3][4]  # one order per session and user
        assert rows[0][4] is None and rows[1][4] is None
        assert rows[4][3] is None  # REES46's 0 is an unknown price
        assert rows[4][5] != uuid.UUID(int=0)  # no session in the file: derived
        assert conn.execute("select category, brand, price, sku, name from raw.products where product_id = 3900821"
                            ).fetchone() == ("appliances.environment.water_heater", "aqua", Decimal("33.20"), None, None)
        assert conn.execute("select category, brand, price from raw.products where product_id = 17200506").fetchone() \
            == ("furniture.living_room,sofa", None, None)
        assert conn.execute("select category from raw.products where product_id = 44600062").fetchone() == (None,)
        assert conn.execute("select email, country, channel, signup_at::text from raw.users where user_id = 554748717"
                            ).fetchone() == (None, None, None, "2019-10-01 00:00:05+00")
    before = counts(fresh_database)
    again = shop_import(fresh_database, path).text
    assert "added 0 new events, 5 already present" in again
    after = counts(fresh_database)
    assert after["raw.interactions"] == before["raw.interactions"] == 5
    assert (after["raw.users"], after["raw.products"]) == (before["raw.users"], before["raw.products"]) == (3, 4)
    assert after["shop_meta.imports"] == 2


def test_auto_detects_each_format_and_refuses_an_unknown_header(fresh_database, tmp_path):
    rr = files.write(tmp_path / "events.csv", files.RR_EVENTS)
    shop = files.shopify(tmp_path / "orders_export.csv")
    reesf = files.rees46(tmp_path / "oct.csv")
    out = shop_import(fresh_database, "--dry-run", rr, shop, reesf, *files.raw_files(tmp_path)).text
    for line in ("events.csv: retailrocket events", "orders_export.csv: shopify-orders orders", "oct.csv: rees46 events",
                 "users.csv: raw users", "products_2024.csv.gz: raw products", "interactions.csv: raw interactions"):
        assert line in out
    odd = files.write(tmp_path / "odd.csv", "when,who,what\n1,2,3\n")
    refused = shop_import(fresh_database, odd, check=False)
    assert refused.returncode == 1
    assert "matches no format" in refused.text
    for expected in ("rees46 events: event_time", "retailrocket events: timestamp, visitorid",
                     "shopify-orders orders: name, email", "raw interactions: user_id"):
        assert expected in refused.text
    wrong = shop_import(fresh_database, "--format", "rees46", rr, check=False)
    assert wrong.returncode == 1 and "is not a rees46 file" in wrong.text
    assert counts(fresh_database)["raw.interactions"] == 0


def test_retailrocket_with_properties_and_tree(fresh_database, tmp_path):
    events = files.write(tmp_path / "events.csv", files.RR_EVENTS)
    props = files.write(tmp_path / "item_properties_part1.csv", files.RR_PROPERTIES)
    tree = files.write(tmp_path / "category_tree.csv", files.RR_TREE)
    out = shop_import(fresh_database, events, props, tree).text
    assert "added 5 new events, 1 already present" in out  # the duplicate row is one event
    with fresh_database.connect() as conn:
        rows = conn.execute("select user_id, event_type, session_id, order_id, unit_price from raw.interactions "
                            "where user_id = 257597 order by occurred_at").fetchall()
        assert [r[1] for r in rows] == ["view", "add_to_cart", "purchase", "view"]
        assert rows[0][2] == rows[1][2] == rows[2][2] != rows[3][2]  # a 2-hour gap starts a new session
        assert rows[2][3] is not None and rows[0][3] is None
        assert all(r[4] is None for r in rows)  # RetailRocket has no prices
        cats = dict(conn.execute("select product_id, category from raw.products").fetchall())
        assert cats == {355908: "213/1016", 248676: "213/1017"}  # the category at event time, as a path
        sessions = [r[2] for r in rows]
    # sessions and ids are derived deterministically: a fresh import in another database gives the same
    rerun = shop_import(fresh_database, "--dry-run", events, props, tree).text
    assert "would add 0 new events, 6 already present" in rerun
    assert len(set(sessions)) == 2


def test_shopify_orders(fresh_database, tmp_path):
    path = files.shopify(tmp_path / "orders_export_1.csv")
    out = shop_import(fresh_database, path).text
    assert "added 4 new events" in out
    with fresh_database.connect() as conn:
        lines = conn.execute("""select i.order_id, i.user_id, i.quantity, i.unit_price, i.occurred_at::text, p.sku,
                                       p.name, p.brand, i.session_id
                                from raw.interactions i join raw.products p using (product_id)
                                where i.event_type = 'purchase' order by i.occurred_at, p.sku""").fetchall()
        assert len(lines) == 4
        first, second = lines[0], lines[1]  # order #1001: its second row carries the order's fields
        assert first[0] == second[0] and first[1] == second[1]
        assert first[4] == second[4] == "2024-01-15 15:23:45+00"
        assert (first[2], first[3], first[5], first[7]) == (2, Decimal("12.50"), "MUG-1", "Acme")
        assert lines[2][1] == first[1]  # same e-mail (other case): same customer
        assert lines[2][8] == first[8]  # 17 minutes later: the same session
        assert lines[3][5] is None and lines[3][6] == "Gift card"
        users = conn.execute("select email, full_name, country from raw.users order by email nulls last").fetchall()
        assert users == [("ann@example.com", "Ann Lee", "US"), (None, "Bo", "DE")]
        assert conn.execute("select price from raw.products where sku = 'TEA-1'").fetchone() == (Decimal("4.20"),)


def test_raw_csv_gz_parquet_and_ndjson(fresh_database, tmp_path):
    out = shop_import(fresh_database, *files.raw_files(tmp_path)).text
    assert "added 4 new events, 1 already present" in out  # event 1 is delivered twice in the file
    assert fresh_database.scalar("select count(*) from raw.interactions where event_id = "
                                 "'00000000-0000-0000-0000-000000000001'") == 1
    with fresh_database.connect() as conn:
        assert conn.execute("select email, country, channel from raw.users where user_id = 2").fetchone() == (None, None, None)
        assert conn.execute("select signup_at::text from raw.users where user_id = 3").fetchone() == ("2024-01-04 10:00:00+00",)
        assert conn.execute("select name, price from raw.products where product_id = 10").fetchone() == ("Mug", Decimal("9.99"))
        assert conn.execute("select sku, price from raw.products where product_id = 11").fetchone() == (None, None)
        assert conn.execute("select event_type, quantity, unit_price from raw.interactions "
                            "where event_id = '00000000-0000-0000-0000-000000000004'").fetchone() == ("view", 1, None)
        assert conn.execute("select event_type from raw.interactions where event_id = "
                            "'00000000-0000-0000-0000-000000000002'").fetchone() == ("add_to_cart",)
    table = pa.table({"user_id": pa.array([5, 5], pa.int64()), "product_id": pa.array([10, 10], pa.int64()),
                      "event_type": ["view", "purchase"], "quantity": pa.array([1, 3], pa.int32()),
                      "unit_price": pa.array([Decimal("9.99"), Decimal("9.50")], pa.decimal128(10, 2)),
                      "occurred_at": pa.array([1_704_300_000_000_000, 1_704_300_060_000_000], pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, tmp_path / "events.parquet")
    out = shop_import(fresh_database, "--format", "raw", "--table", "interactions", tmp_path / "events.parquet").text
    assert "added 2 new events" in out
    ndjson = files.write(tmp_path / "more.ndjson", "\n".join(json.dumps(r) for r in [
        {"user_id": 6, "product_id": 11, "event_type": "view", "occurred_at": "2024-01-05T00:00:00Z"},
        {"user_id": 6, "product_id": 11, "event_type": "order", "occurred_at": "2024-01-05T00:10:00Z", "unit_price": "3.5"},
    ]) + "\n")
    assert "added 2 new events" in shop_import(fresh_database, "--table", "interactions", ndjson).text
    with fresh_database.connect() as conn:
        assert conn.execute("select quantity, unit_price from raw.interactions where user_id = 5 and event_type = 'purchase'"
                            ).fetchone() == (3, Decimal("9.50"))
        assert conn.execute("select count(distinct order_id) from raw.interactions where user_id = 6").fetchone() == (1,)
    again = shop_import(fresh_database, "--table", "interactions", ndjson).text
    assert "added 0 new events, 2 already present" in again


def test_every_reject_reason_and_the_rollback_above_the_limit(fresh_database, tmp_path):
    rows = [
        files.REES46_ROWS[0],
        "2019-13-01 00:00:04 UTC,view,1,1,,,1.00,1,",  # impossible date
        "2019-10-01 00:00:04 UTC,click,1,1,,,1.00,1,",  # unknown type
        "2019-10-01 00:00:04 UTC,view,x1,1,,,1.00,1,",  # product id
        "2019-10-01 00:00:04 UTC,view,1,1,,,1.00,-4,",  # user id
        "2019-10-01 00:00:04 UTC,view,1,1,,,cheap,1,",  # price
        "2019-10-01 00:00:04 UTC,view,1,1",  # too few fields
    ]
    path = files.rees46(tmp_path / "bad.csv", rows)
    before = counts(fresh_database)
    refused = shop_import(fresh_database, path, check=False)
    assert refused.returncode == 1
    assert "nothing was imported" in refused.text
    assert counts(fresh_database) == before
    out = shop_import(fresh_database, "--max-rejected", "6", path).text
    assert "added 1 new events" in out
    with fresh_database.connect() as conn:
        got = conn.execute("select line, reason, raw_text from raw.rejected_rows order by line").fetchall()
    assert [(line, reason) for line, reason, _ in got] == [
        (3, "event_time is not like 2019-10-01 00:00:04 UTC"),
        (4, "unknown event_type"),
        (5, "product_id is not a whole number"),
        (6, "user_id is not a whole number"),
        (7, "price is not a price (0 to 99999999.99)"),
        (8, "wrong number of fields"),
    ]
    assert "click" in got[1][2] and got[5][2] == "2019-10-01 00:00:04 UTC,view,1,1"
    assert shop_import(fresh_database, "--max-rejected", "90%", "--dry-run", path).returncode == 0
    assert shop_import(fresh_database, "--max-rejected", "10%", path, check=False).returncode == 1


def test_dry_run_writes_nothing(fresh_database, tmp_path):
    path = files.rees46(tmp_path / "oct.csv")
    before = counts(fresh_database)
    out = shop_import(fresh_database, "--dry-run", path).text
    assert "Dry run: nothing was written" in out and "would add 5 new events" in out
    assert counts(fresh_database) == before


def test_encodings_line_endings_empty_and_header_only_files(fresh_database, tmp_path):
    rows = [r.replace("shiseido", "Lancôme") for r in files.REES46_ROWS]
    latin = files.write(tmp_path / "latin.csv", "\n".join([files.REES46_HEADER, *rows]) + "\n", encoding="latin-1")
    refused = shop_import(fresh_database, latin, check=False)
    assert refused.returncode == 1 and "--encoding latin-1" in refused.text
    assert counts(fresh_database)["raw.interactions"] == 0
    shop_import(fresh_database, "--encoding", "latin-1", latin)
    with fresh_database.connect() as conn:
        assert conn.execute("select brand from raw.products where product_id = 44600062").fetchone() == ("Lancôme",)
    bom = files.write(tmp_path / "bom.csv", "\ufeff" + "\r\n".join([files.REES46_HEADER, *files.REES46_ROWS]) + "\r\n")
    out = shop_import(fresh_database, "--dry-run", bom).text
    assert "rees46 events" in out and "0 rejected" in out
    empty = files.write(tmp_path / "empty.csv", "")
    refused = shop_import(fresh_database, empty, check=False)
    assert refused.returncode == 1 and "is empty" in refused.text
    header_only = files.write(tmp_path / "header.csv", files.REES46_HEADER + "\n")
    out = shop_import(fresh_database, header_only).text
    assert "0 rows read" in out and "added 0 new events" in out
    gz = tmp_path / "oct.csv.gz"
    gz.write_bytes(gzip.compress(("\n".join([files.REES46_HEADER, *files.REES46_ROWS]) + "\n").encode()))
    assert "rees46 events" in shop_import(fresh_database, "--dry-run", gz).text
