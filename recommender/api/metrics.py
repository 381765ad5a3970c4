"""Prometheus metrics, and the ASGI middleware that times every request by route template.

With several uvicorn workers, `shop serve api` sets PROMETHEUS_MULTIPROC_DIR before the workers
start, and /metrics aggregates every worker's values (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from starlette.requests import ClientDisconnect

log = logging.getLogger("shop.api")

CLIENT_CLOSED = 499  # nginx's code for "the client closed the request": counted, never sent

REQUESTS = Counter("shop_api_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "shop_api_request_duration_seconds", "Time to answer a request, by route template", ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECOMMENDATIONS = Counter("shop_api_recommendations_total", "Recommendation lists served", ["variant", "strategy"])
CATALOGUE_UPDATES = Counter("shop_api_catalogue_updates_total",
                            "Catalogue changes from the shop's product writes (this worker's or polled)")
EVENTS_ACCEPTED = Counter("shop_api_events_accepted_total", "Events written to raw.interactions")
MODEL_RELOADS = Counter("shop_api_model_reloads_total", "Model loads after a change on disk", ["result"])
SERVED_LOGGED = Counter("shop_api_served_log_rows_total", "Rows written to raw.served_recommendations")
SERVED_DROPPED = Counter("shop_api_served_log_dropped_total",
                         "Impressions not written to raw.served_recommendations, by reason: rate (over "
                         "SHOP_API_IMPRESSIONS_PER_S), unknown_rate (over SHOP_API_UNKNOWN_IMPRESSIONS_PER_S), "
                         "buffer (database down too long), error (the write failed)", ["reason"])
SERVED_REPEATS = Counter("shop_api_impressions_repeated_total",
                         "Answers identical to one the same user got within SHOP_API_IMPRESSION_WINDOW_S: "
                         "the same impression, not logged again")
DATABASE_UP = Gauge("shop_api_database_up", "1 when the database is reachable", multiprocess_mode="min")
FRESH_EVENTS = Gauge("shop_api_fresh_events", "Events newer than the model watermark held in memory",
                     multiprocess_mode="max")


_children: dict[tuple, object] = {}


def _child(metric, *labels: str):
    """``metric.labels(*labels)``, memoised: labels() costs a lock and a dict build per call."""
    key = (id(metric), labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def recommendation_served(variant: str, strategy: str) -> None:
    _child(RECOMMENDATIONS, variant, strategy).inc()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): a few microseconds per request.

    A client that disconnects before its request is read is not a server error: it is counted with
    status 499 and logged at debug level, without a traceback."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except ClientDisconnect:
            status = CLIENT_CLOSED
            log.debug("client disconnected during %s %s", scope["method"], scope.get("path"))
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            _child(REQUESTS, scope["method"], path, str(status)).inc()
            _child(LATENCY, path).observe(time.perf_counter() - start)
