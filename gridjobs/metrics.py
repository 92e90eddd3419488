"""Prometheus metrics (prometheus-client), in one registry per process.

Most are set where things happen. The queue gauges are set by the admission
refresher from Postgres; the Modbus figures come from the shards' own
counters (they run in the Ray actor processes) through `MODBUS`, which the
shard-stats poller fills.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Iterator, Mapping

from prometheus_client import (
    CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from adapters import LATENCY_BUCKETS_S, RequestCounts

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "gridjobs_http_requests_total", "HTTP requests by route and status",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "gridjobs_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge(
    "gridjobs_http_requests_in_flight", "HTTP requests being handled (bounded by max_inflight)",
    registry=REGISTRY,
)
BACKGROUND_TASK_FAILURES = Counter(
    "gridjobs_background_task_failures_total",
    "Owned background tasks (relay, hub, refresher, writers) that ended on an error",
    ["task"], registry=REGISTRY,
)
OPERATIONS_FINISHED = Counter(
    "gridjobs_operations_finished_total", "Operations finished by kind and status",
    ["kind", "status"], registry=REGISTRY,
)
OPERATIONS_RUNNING = Gauge(
    "gridjobs_operations_running", "Operations this process is running now", registry=REGISTRY,
)
LEASE_RENEWAL_FAILURES = Counter(
    "gridjobs_lease_renewal_failures_total",
    "Heartbeats that did not renew a lease: store_error (retried) or lease_lost (run stopped)",
    ["reason"], registry=REGISTRY,
)
DEVICE_OUTCOMES = Counter(
    "gridjobs_device_outcomes_total", "Per-device outcomes recorded, by state and code",
    ["state", "code"], registry=REGISTRY,
)

# The queue, as the admission refresher last read it from Postgres.
QUEUE_OPERATIONS = Gauge(
    "gridjobs_queue_operations", "Active operations by kind, status and priority band",
    ["kind", "status", "band"], registry=REGISTRY,
)
QUEUE_OLDEST = Gauge(
    "gridjobs_queue_oldest_queued_seconds", "Age of the oldest queued operation, by lane",
    ["lane"], registry=REGISTRY,
)
QUEUE_REFRESH_FAILURES = Counter(
    "gridjobs_queue_refresh_failures_total", "Queue reads that failed or timed out",
    registry=REGISTRY,
)
ADMISSION_DEPTH = Gauge(
    "gridjobs_admission_queue_depth",
    "Queued operations per lane as admission counts them (last read plus admitted since)",
    ["lane"], registry=REGISTRY,
)
ADMISSION_BOUND = Gauge(
    "gridjobs_admission_queue_bound", "The depth at which a lane refuses", ["lane"],
    registry=REGISTRY,
)
ADMISSION_DRAIN = Gauge(
    "gridjobs_admission_drain_per_second",
    "Operations claimed per second over the drain window, by lane (0: none measured)",
    ["lane"], registry=REGISTRY,
)
ADMISSION_REFUSED = Counter(
    "gridjobs_admission_refused_total",
    "Requests refused with 503: by lane (unparsed: before the body was read) and reason",
    ["lane", "reason"], registry=REGISTRY,
)

# Events: webhook deliveries and streams.
WEBHOOK_DELIVERIES = Counter(
    "gridjobs_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retry, failed (no attempt left), disabled",
    ["outcome"], registry=REGISTRY,
)
WEBHOOK_LATENCY = Histogram(
    "gridjobs_webhook_delivery_seconds", "Time from sending a webhook to its answer (or giving up)",
    registry=REGISTRY, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
WEBHOOK_OLDEST_UNDELIVERED = Gauge(
    "gridjobs_webhook_oldest_undelivered_seconds",
    "Per enabled endpoint (its id), the age of the oldest event still waiting for delivery",
    ["endpoint"], registry=REGISTRY,
)
OUTBOX_RELAYED = Counter(
    "gridjobs_outbox_relayed_events_total", "Events the webhook relay passed (fanned out to endpoints)",
    registry=REGISTRY,
)
EVENT_STREAMS_OPEN = Gauge(
    "gridjobs_event_streams_open", "Server-Sent Event streams open in this process", registry=REGISTRY,
)
EVENT_STREAMS_CUT = Counter(
    "gridjobs_event_streams_cut_total",
    "Streams closed by the server: overflow (the client read too slowly), refused (too many open)",
    ["reason"], registry=REGISTRY,
)

# The shards (Ray actors, other processes), as the shard-stats poller last saw them.
SHARD_RESTARTS = Counter(
    "gridjobs_shard_restarts_total", "Shard actor restarts seen (a new incarnation)",
    ["shard"], registry=REGISTRY,
)
SHARD_STATS_FAILURES = Counter(
    "gridjobs_shard_stats_failures_total", "Shard stats pulls that failed or timed out",
    ["shard"], registry=REGISTRY,
)


class ModbusCollector:
    """Modbus request counts per gateway, summed over the shards (and their past lives)."""

    def __init__(self) -> None:
        self._counts: dict[str, RequestCounts] = {}

    def publish(self, counts: Mapping[str, RequestCounts]) -> None:
        self._counts = dict(counts)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("gridjobs_modbus_requests", "Modbus requests by gateway",
                                       labels=["gateway"])
        timeouts = CounterMetricFamily("gridjobs_modbus_request_timeouts",
                                       "Modbus requests not answered in time", labels=["gateway"])
        errors = CounterMetricFamily("gridjobs_modbus_request_errors",
                                     "Failed Modbus requests by fault code (timeouts included)",
                                     labels=["gateway", "code"])
        latency = HistogramMetricFamily("gridjobs_modbus_request_seconds",
                                        "Latency of answered Modbus requests", labels=["gateway"])
        for gateway, c in sorted(self._counts.items()):
            requests.add_metric([gateway], c.requests)
            timeouts.add_metric([gateway], c.timeouts)
            for code, n in sorted(c.errors.items()):
                errors.add_metric([gateway, code], n)
            latency.add_metric([gateway], _cumulative(c.buckets), c.seconds_sum)
        yield from (requests, timeouts, errors, latency)


def _cumulative(buckets: tuple[int, ...]) -> list[tuple[str, float]]:
    bounds = [floatToGoString(b) for b in LATENCY_BUCKETS_S] + ["+Inf"]
    return list(zip(bounds, accumulate(buckets)))


MODBUS = ModbusCollector()
REGISTRY.register(MODBUS)
