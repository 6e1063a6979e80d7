"""Prometheus metrics of the service: requests and their latency, GraphQL round trips, ingestion rates,
queue depth and dead letters. Each app has its own registry, so several apps can run in one process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kgtwin.api.service import Twin

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kgtwin_http_requests_total",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kgtwin_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.round_trips = Histogram(
            "kgtwin_graphql_round_trips",
            "Statements one GraphQL request sent to the graph",
            buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
            registry=self.registry,
        )
        self.subscriptions = Counter(
            "kgtwin_graphql_subscriptions_total", "GraphQL subscriptions started", registry=self.registry
        )

    def watch(self, twin: Twin) -> None:
        self.registry.register(_TwinCollector(twin))


class _TwinCollector(Collector):
    """Reads the pipeline's own counters at scrape time instead of mirroring them on the hot path."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    def collect(self) -> Iterator[Metric]:
        pipeline = self.twin.pipeline
        written = CounterMetricFamily("kgtwin_ingest_observations", "Observations stored in the graph")
        batches = CounterMetricFamily("kgtwin_ingest_batches", "Micro-batches written to the graph")
        depth = GaugeMetricFamily("kgtwin_ingest_queue_depth", "Observations queued or being written")
        letters = GaugeMetricFamily("kgtwin_deadletters", "Messages in the dead-letter store")
        subscribers = GaugeMetricFamily("kgtwin_live_subscribers", "Live event subscribers of this process")
        written.add_metric([], pipeline.written if pipeline else 0)
        batches.add_metric([], pipeline.batches if pipeline else 0)
        depth.add_metric([], pipeline.queue_depth if pipeline else 0)
        letters.add_metric([], self.twin.deadletters.count() if self.twin.deadletters else 0)
        subscribers.add_metric([], self.twin.bus.subscriber_count)
        yield from (written, batches, depth, letters, subscribers)
