"""Prometheus metrics: the counters the API, order intake and the webhook worker keep, and the text
/metrics serves (summed over every server process when they share PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("ordermesh_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ordermesh_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ORDERS_CREATED = Counter("ordermesh_orders_created_total", "Orders created", ["channel", "status"])
INTAKE_BATCH_SIZE = Histogram(
    "ordermesh_intake_batch_orders",
    "Orders placed together in one intake transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
WEBHOOK_DELIVERIES = Counter("ordermesh_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"])


def metrics_payload() -> tuple[bytes, str]:
    """The metrics text; summed over every server process when they share PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
