"""The service's Prometheus metrics, in a registry of its own (one per application).

Requests and latency by route template and status, rows scored by source, guard events by
name and reason, and the loaded models by sha. Per process: with ``--workers N`` each worker
exposes its own counters (scrape them through the load balancer or run one worker a pod).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The counters, histograms and gauges ``/metrics`` exposes."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tessera_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tessera_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "tessera_rows_scored",
            "rows scored by source (reranker or fallback)",
            ["source"],
            registry=self.registry,
        )
        self.guard_events = Counter(
            "tessera_guard_events",
            "guard events by name and reason",
            ["event", "reason"],
            registry=self.registry,
        )
        self.loaded = Gauge(
            "tessera_loaded_model",
            "1 for each model version (booster sha) the server is serving",
            ["name", "version", "model_sha256", "backend"],
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_scoring(self, counts: dict[str, int], events: Iterable[tuple[str, str]]) -> None:
        """Count one request's rows by source and its guard events as ``(name, reason)``."""
        for source, rows in counts.items():
            self.rows.labels(source).inc(rows)
        for name, reason in events:
            self.guard_events.labels(name, reason).inc()

    def set_loaded(self, models: Iterable[tuple[str, int, str, str]]) -> None:
        """Replace the loaded-model gauge with ``(name, version, sha256, backend)`` rows."""
        self.loaded.clear()
        for name, version, sha, backend in models:
            self.loaded.labels(name, str(version), sha, backend).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
