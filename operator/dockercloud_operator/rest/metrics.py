"""The REST API's metrics, on the operator's conventions (`dockercloud_operator_` names, one
registry, served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "dockercloud_operator_api_http_requests",
    "REST API requests, by endpoint and HTTP status code.",
    ["endpoint", "method", "code"],
)
LATENCY = Histogram(
    "dockercloud_operator_api_http_request_duration_seconds",
    "How long REST API requests took to answer, by endpoint (a log stream: until it opened).",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LOG_STREAMS = Gauge(
    "dockercloud_operator_api_log_streams", "Log websockets open now (the stream API)."
)
