"""What can keep a page from showing its data; each message says what to do next."""

from __future__ import annotations


class DataUnavailable(Exception):
    """The database cannot answer (down, unreachable, misconfigured): the page shows the message."""


class WarehouseNotBuilt(DataUnavailable):
    """The marts the page reads do not exist (yet), or are older than the dashboard."""


class ApiUnavailable(Exception):
    """The recommender API did not answer; the message names the URL and how to start it."""
