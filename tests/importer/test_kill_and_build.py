"""An import killed with SIGKILL leaves the database as it was. (The whole loop on an imported shop,
`shop build` included, is tests/importer/test_whole_loop.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support import REPO_ROOT

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
