"""Prometheus metrics (prometheus-client), in one registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "gridjobs_http_requests_total", "HTTP requests by route and status",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "gridjobs_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY,
)
OPERATIONS_FINISHED = Counter(
    "gridjobs_operations_finished_total", "Operations finished by kind and status",
    ["kind", "status"], registry=REGISTRY,
)
DEVICE_OUTCOMES = Counter(
    "gridjobs_device_outcomes_total", "Per-device outcomes recorded, by state and code",
    ["state", "code"], registry=REGISTRY,
)
