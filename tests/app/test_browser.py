"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Serves the app (`streamlit run`, as `shop serve dashboard` does) over the test shop, opens it,
changes the date range, visits every page through the sidebar and saves a screenshot of each (on the
Products page, after picking a product with price changes and finding its price history drawn); any
Streamlit exception or error box fails the test.
"""

from __future__ import annotations

import pytest

from tests.app import ab_support
from tests.app import browser as harness

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not harness.CHROMIUM.is_file(),
        reason="Debian's Chromium (/usr/bin/chromium) is missing: `apt-get install chromium` (.ci/run does it)",
    ),
]

PAGES = ["Funnel", "Products", "Customers", "Recommendations", "Data health"]


def kpi_values(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


# The product with the most price changes in the last 7 days (the period the test picks), as the
# Products page's picker labels it.
REPRICED_PRODUCT = """
    select coalesce(products.product_name, 'product ' || products.product_id) || ' · ' || products.category
           || ' · #' || products.product_id
    from marts.price_changes as changes
    inner join marts.products as products on changes.product_id = products.product_id
    where changes.changed_on > (select max(activity_date) from marts.product_daily_performance) - 7
    group by products.product_id, products.product_name, products.category
    order by count(*) desc, products.product_id
    limit 1
"""


def show_price_history(page, label: str) -> list[str]:
    """Pick a product in the Products page's drill-down, as a user does; the legend of its price chart."""
    page.locator('[data-testid="stSelectbox"]', has_text="Product (by revenue in the period)").click()
    page.keyboard.type(label)
    page.keyboard.press("Enter")
    harness.wait_until_idle(page)
    chart = page.locator(".js-plotly-plot").filter(has_text="Price in events")
    assert chart.count() == 1
    chart.scroll_into_view_if_needed()
    return [text.text_content() for text in chart.locator(".legendtext").all()]


def test_the_dashboard_in_chromium(built_shop, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="Playwright (the dev extra) is not installed")
    (repriced,) = built_shop.one(REPRICED_PRODUCT)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = {**built_shop.env, "SHOP_API_URL": "http://127.0.0.1:9"}
    (last_day,) = built_shop.one("select max(activity_date) from marts.sales_summary")
    with (ab_support.variant_rows(built_shop, last_day, ab_support.PAGE_UNITS), harness.serve(env) as url,
          harness.browser_page() as page):
        page.goto(url)
        page.wait_for_selector('h1:has-text("Overview")', timeout=90_000)
        harness.wait_until_idle(page)
        assert harness.error_boxes(page) == []
        thirty_days = kpi_values(page)
        assert len(thirty_days) == 5 and thirty_days[0].startswith("$")
        # Why revenue moved: its sentence and its waterfall beside the daily chart.
        assert page.get_by_text("Why revenue moved").count() == 1
        assert page.locator('[data-testid="stMarkdownContainer"] p', has_text="Revenue ").count() >= 1
        assert page.locator(".js-plotly-plot").count() == 2
        page.screenshot(path=shots / "overview-30-days.png")

        page.locator('[data-testid="stSidebar"] button', has_text="7 days").first.click()
        page.wait_for_function(
            "before => Array.from(document.querySelectorAll('[data-testid=\"stMetricValue\"]'))"
            ".map(e => e.innerText).join('|') !== before",
            arg="|".join(thirty_days),
            timeout=60_000,
        )
        harness.wait_until_idle(page)
        assert harness.error_boxes(page) == []
        page.screenshot(path=shots / "overview-7-days.png")

        for title in PAGES:
            harness.open_page(page, title)
            if title == "Products":
                # A product's price history next to its daily units, with the snapshot's list
                # price, and a table of what each change did.
                legend = show_price_history(page, repriced)
                assert legend == ["Units", "Price in events", "List price (catalogue snapshot)"]
                assert page.get_by_text("Price changes and their effect").is_visible()
            assert harness.error_boxes(page) == [], f"{title}: {harness.error_boxes(page)}"
            page.screenshot(path=shots / f"{title.lower().replace(' ', '-')}.png", full_page=True)

        # The API is down in this test: the Recommendations page says so in a warning, not an error.
        harness.open_page(page, "Recommendations")
        assert "shop serve api" in page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
        # The A/B statistics of two test arms: intervals, lifts and the sample-ratio verdict, as text.
        ab_table = page.locator('[data-testid="stTable"]', has_text="Click-through lift")
        assert ab_table.count() == 1
        assert "significant" in ab_table.inner_text() and " to " in ab_table.inner_text()
        assert "no sample ratio mismatch" in page.locator('[data-testid="stAlertContentSuccess"]').inner_text()

    saved = sorted(path.name for path in shots.iterdir())
    assert len(saved) == 2 + len(PAGES), saved
    assert all((shots / name).stat().st_size > 10_000 for name in saved)
