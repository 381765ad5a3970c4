"""An import killed with SIGKILL leaves the database as it was; `shop build` passes on an imported shop
without brands, prices or e-mails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support import REPO_ROOT, run_shop

from . import files
from .test_import import counts, shop_import

pytestmark = pytest.mark.slow


def test_kill_9_mid_import_leaves_the_database_unchanged(fresh_database, tmp_path):
    files.rees46(tmp_path / "first.csv")
    shop_import(fresh_database, tmp_path / "first.csv")
    before = counts(fresh_database)
    big = files.big_rees46(tmp_path / "big.csv", 1_500_000)
    process = subprocess.Popen([sys.executable, "-m", "shop", "import", str(big)], cwd=REPO_ROOT,
                               env={**os.environ, **fresh_database.env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        with fresh_database.connect(autocommit=True) as conn:
            for _ in range(1200):  # wait until rows are streaming into the stage (not a timing assertion)
                copying = conn.execute("select coalesce(sum(tuples_processed), 0) from pg_stat_progress_copy "
                                       "where datname = current_database()").fetchone()[0]
                if copying > 0 or process.poll() is not None:
                    break
                time.sleep(0.05)
            assert process.poll() is None, "the import ended before it could be killed: make the file bigger"
            assert copying > 0
            process.send_signal(signal.SIGKILL)
            process.wait()
            for _ in range(600):  # the server notices the lost client and rolls its transaction back
                active = conn.execute("select count(*) from pg_stat_activity where datname = current_database() "
                                      "and pid <> pg_backend_pid()").fetchone()[0]
                if active == 0:
                    break
                time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert counts(fresh_database) == before


def test_shop_build_passes_on_an_imported_shop_without_brands_prices_or_emails(fresh_database, tmp_path):
    events = files.write(tmp_path / "events.csv", files.RR_EVENTS)  # no prices, no brands, no e-mails
    props = files.write(tmp_path / "item_properties.csv", files.RR_PROPERTIES)
    tree = files.write(tmp_path / "category_tree.csv", files.RR_TREE)
    rees = files.rees46(tmp_path / "oct.csv")  # a product without category, brand or price; a sessionless view
    shop_import(fresh_database, events, props, tree, rees)
    built = run_shop("build", env=fresh_database.env, check=False, timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    with fresh_database.connect() as conn:
        assert conn.execute("select category from marts.products where product_id = 44600062").fetchone() == ("unknown",)
        assert conn.execute("select brand, list_price from marts.products where product_id = 355908").fetchone() == (None, None)
        # a RetailRocket order has no price: its revenue is unknown (null), not zero
        orders = conn.execute("select count(*), count(revenue) from marts.orders").fetchone()
        assert orders[0] == 2 and orders[1] == 1
        assert conn.execute("select count(*) from marts.customers where rfm_segment is null").fetchone() == (0,)
