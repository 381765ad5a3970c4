"""Page building blocks: the error guard, empty states and KPI cards, drawn the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.errors import DataUnavailable, WarehouseNotBuilt
from app.formatting import CURRENCY_SYMBOL
from app.kpis import Kpi

EMPTY_WAREHOUSE = (
    "The warehouse holds no activity yet. Load some with `shop simulate` "
    "(or start the live stream: `shop simulate --live`), build it with `shop build`, then reload."
)


@contextmanager
def guarded() -> Iterator[None]:
    """Run a page body; a database or warehouse problem becomes a message on the page, not a traceback."""
    try:
        yield
    except WarehouseNotBuilt as exc:
        st.warning(str(exc), icon=":material/construction:")
    except DataUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")


def empty(message: str) -> None:
    st.info(message, icon=":material/info:")


def stop_with(message: str) -> NoReturn:
    """The page has nothing to show: say why (an info box, not an error) and end this run of it."""
    empty(message)
    st.stop()


def kpi_row(cards: Sequence[Kpi]) -> None:
    columns = st.columns(len(cards))
    for column, card in zip(columns, cards, strict=True):
        column.metric(
            card.label,
            card.display,
            delta=card.delta,
            help=card.help,
            border=True,
        )


def chart(fig: go.Figure, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def table(frame: pd.DataFrame, column_config: dict | None = None, height: int | str = "auto") -> None:
    st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config, height=height)


# Table columns in the dashboard's number formats (Streamlit formats numbers with sprintf-js).
def money_column(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format=f"{CURRENCY_SYMBOL}%,.2f")


def count_column(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%,d")


def percent_column(label: str) -> st.column_config.NumberColumn:
    """For a rate already multiplied by 100 (see `as_percent`): 3.4%."""
    return st.column_config.NumberColumn(label, format="%.1f%%")


def as_percent(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Rates (0.034) as percentages (3.4) for `percent_column`, on a copy."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column] * 100
    return out
