"""Click-through is the share of recommendation lists served that were clicked, never above one.

On a small shop the same few users ask again and again: the API logs identical answers within its
impression window as one impression, while every click after each of them counts, and one list brings
several clicks. Rows are planted in the empty shop's raw tables as the API's served log and the shop's
events would hold them, and the two models that count them are run for real (dbt, incrementally)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from shop import dbt_runner

DAY = datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
VARIANTS = ("small-model", "small-popular")
USERS = (9_000_001, 9_000_002)


def seconds(n: float) -> datetime:
    return DAY + timedelta(seconds=n)


SERVED = [  # user, variant, products, served at (s after noon)
    # one impression: three identical answers within the window; three sessions followed it
    (USERS[0], VARIANTS[0], [1, 2, 3], 0),
    # two different answers ten minutes apart
    (USERS[1], VARIANTS[1], [1, 2], 0),
    (USERS[1], VARIANTS[1], [3, 4], 600),
]
VIEWS = [  # user, variant, product, at (s after noon)
    (USERS[0], VARIANTS[0], 1, 5), (USERS[0], VARIANTS[0], 2, 9),  # the first session: two clicks
    (USERS[0], VARIANTS[0], 1, 15), (USERS[0], VARIANTS[0], 1, 25),  # the repeats' sessions
    (USERS[1], VARIANTS[1], 1, 3), (USERS[1], VARIANTS[1], 2, 4),  # the first list, twice
    (USERS[1], VARIANTS[1], 1, 620),  # after the second list, which does not hold it: no click on it
]


def plant(conn) -> None:
    for user, variant, products, at in SERVED:
        conn.execute(
            "insert into raw.served_recommendations (request_id, user_id, variant, model_id, strategy, product_ids, "
            "served_at) values (%s, %s, %s, 'model-1', 'model', %s, %s)",
            (uuid4(), user, variant, products, seconds(at)),
        )
    for user, variant, product, at in VIEWS:
        conn.execute(
            "insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, "
            "unit_price, recommendation_variant, occurred_at) values (%s, %s, %s, %s, 'view', 1, 9.99, %s, %s)",
            (uuid4(), uuid4(), user, product, variant, seconds(at)),
        )


def remove(conn) -> None:
    """Back to an empty warehouse (its watermarks are its tables' own newest rows)."""
    conn.execute("delete from raw.served_recommendations where user_id = any(%s)", (list(USERS),))
    conn.execute("delete from raw.interactions where user_id = any(%s)", (list(USERS),))
    conn.execute("delete from intermediate.int_interactions_enriched where user_id = any(%s)", (list(USERS),))
    conn.execute("delete from marts.recommendation_user_days where variant = any(%s)", (list(VARIANTS),))
    conn.execute("delete from marts.recommendation_variant_daily where variant = any(%s)", (list(VARIANTS),))


def test_click_through_is_the_share_of_lists_clicked_on_a_small_shop(empty_shop):
    with empty_shop.database.connect() as conn:
        plant(conn)
        conn.commit()
    try:
        result = dbt_runner.run_dbt(["run", "--select", "int_interactions_enriched", "recommendation_user_days",
                                     "recommendation_variant_daily"],
                                    empty_shop.database.info.env(), home=empty_shop.home)
        assert result.success, f"dbt run failed: {result.failing_names} {result.exception or ''}"
        rows = {row[0]: row[1:] for row in empty_shop.rows(
            "select variant, impressions, clicks, clicked_lists, click_through, users "
            "from marts.recommendation_variant_daily where activity_date = %s",
            (DAY.date(),))}
        units = empty_shop.rows("select variant, user_id, lists, clicked_lists from marts.recommendation_user_days "
                                "where activity_date = %s order by variant", (DAY.date(),))
        # clicks per impression would be 4 and 1.5 (400% and 150%)
        assert rows[VARIANTS[0]][:4] == (1, 4, 1, 1)
        assert rows[VARIANTS[1]][:4] == (2, 3, 1, 0.5)
        # the A/B units of the same share: one user each, 1 list of 1 clicked, and 2 lists of 1 clicked
        assert [rows[name][4] for name in VARIANTS] == [1, 1]
        assert units == [(VARIANTS[0], USERS[0], 1, 1), (VARIANTS[1], USERS[1], 2, 1)]
    finally:
        with empty_shop.database.connect() as conn:
            remove(conn)
            conn.commit()
