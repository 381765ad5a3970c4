"""Regenerate docs/dashboard.png (the README's picture) from the running dashboard.

    python scripts/screenshot_dashboard.py                       # the app at http://localhost:8501
    python scripts/screenshot_dashboard.py --url http://host:8501 --output /tmp/overview.png
    python scripts/screenshot_dashboard.py --serve               # start the app for the shot, then stop it

It opens the Overview page in headless Debian Chromium (/usr/bin/chromium) at a laptop's 1440x900,
waits until every chart is drawn, refuses to save a page that shows a Streamlit error, and saves it.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app import browser as harness  # noqa: E402

DEFAULT_URL = "http://localhost:8501"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the running dashboard (default {DEFAULT_URL})")
    parser.add_argument("--serve", action="store_true", help="start the dashboard for the shot (SHOP_* settings)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()

    if not args.serve and not harness.answering(args.url):
        raise SystemExit(f"No dashboard answers at {args.url}: start it with `shop serve dashboard`, or pass --serve.")
    server = harness.serve({}) if args.serve else nullcontext(args.url.rstrip("/"))
    with server as url, harness.browser_page() as page:
        page.goto(url)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=120_000)
        harness.wait_until_idle(page)
        errors = harness.error_boxes(page)
        if errors:
            raise SystemExit(f"The dashboard shows an error; no screenshot saved: {errors[0][:300]}")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.output)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
