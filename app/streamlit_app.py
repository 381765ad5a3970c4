"""Entrypoint of the dashboard (`shop serve dashboard`, or `streamlit run app/streamlit_app.py`).

It only frames the app: page settings, the navigation (one file per page in app/views/) and the
filter state that pages share. Each page draws itself, its queries live in app/queries.py.
"""

from __future__ import annotations

import streamlit as st

from app import filters

st.set_page_config(page_title="Shop analytics", page_icon=":material/storefront:", layout="wide")
filters.keep_state()
# Five KPI cards side by side on a laptop screen: a slightly smaller figure keeps "$1,234,567.89" whole.
st.html("<style>[data-testid='stMetricValue'] { font-size: 1.7rem; }</style>")

PAGES = {
    "Analytics": [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/funnel.py", title="Funnel", icon=":material/filter_alt:"),
        st.Page("views/products.py", title="Products", icon=":material/inventory_2:"),
        st.Page("views/customers.py", title="Customers", icon=":material/groups:"),
    ],
    "Platform": [
        st.Page("views/recommendations.py", title="Recommendations", icon=":material/recommend:"),
        st.Page("views/data_health.py", title="Data health", icon=":material/monitor_heart:"),
    ],
}

st.navigation(PAGES).run()
