"""What metrics and tracing cost the render pipeline: renders/s with both off, then on.

Off: no METRICS_LISTEN and no OTEL_EXPORTER_OTLP_ENDPOINT (nothing served, the API's no-op
tracer). On: every service serves /metrics, scraped every second by this process as Prometheus
would, and exports its spans over OTLP/gRPC to a sink here that counts and discards them.

Every service is restarted between the two settings. The runs go off, on, on, off (ABBA), so a
machine that speeds up or slows down during the bench (2 cores, a cache warming) weighs on both
sides alike; each side's figure is the mean of its two runs.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import threading
from concurrent import futures

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from craftkit.devstack import SERVICES, Stack

OFF = {"METRICS_LISTEN": "", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
SCRAPE_EVERY = 1.0


class SpanSink(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver that counts the spans it is sent and keeps none."""

    def __init__(self) -> None:
        self.spans = 0
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def Export(self, request, context):  # noqa: N802 - the OTLP service's name
        count = sum(len(scope.spans) for resource in request.resource_spans
                    for scope in resource.scope_spans)
        with self.lock:
            self.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()

    def __enter__(self) -> SpanSink:
        self.server.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.stop(grace=None)


def restart(stack: Stack, settings: dict[str, str]) -> None:
    """Every service again, with `settings` (OFF or `on(...)`) instead of the other side's."""
    for name in (*OFF, *on(0)):
        stack.env_overrides.pop(name, None)
    stack.env_overrides.update(settings)
    with futures.ThreadPoolExecutor(len(SERVICES)) as stopping:  # each stops gracefully, at once
        list(stopping.map(lambda name: stack.kill_service(name, signal.SIGTERM), SERVICES))
    for name in SERVICES:
        stack.start_service(name)
    stack.wait_ready(timeout=120)


def on(sink_port: int) -> dict[str, str]:
    """Metrics served (the stack's METRICS_LISTEN ports) and spans exported to the sink."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_EXPORTER_OTLP_INSECURE": "true"}


async def scraping(stack: Stack, stop: asyncio.Event) -> int:
    """Scrapes every service's /metrics every second until `stop`; returns the scrapes made."""
    scrapes = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            for name in stack.metrics_ports:
                response = await client.get(stack.metrics_url(name))
                response.raise_for_status()
                scrapes += 1
            try:
                await asyncio.wait_for(stop.wait(), SCRAPE_EVERY)
            except asyncio.TimeoutError:
                pass
    return scrapes


async def throughput(measure, stack: Stack, scrape: bool) -> float:
    """renders/s of one `measure()` run (after a short warm-up), scraping meanwhile if asked."""
    await measure(2)  # warm-up: the restarted services' connections, imports and caches
    stop = asyncio.Event()
    scraper = asyncio.create_task(scraping(stack, stop)) if scrape else None
    try:
        rate = await measure(None)
    finally:
        stop.set()
        if scraper is not None:
            await scraper
    return rate


def overhead(stack: Stack, run, measure, rounds: int = 1) -> str:
    """`measure(seconds or None)` is a coroutine function giving renders/s (None: the bench's
    length); `run` runs one coroutine to completion. `rounds` of off, on, on, off. Leaves the
    services restarted with both off: run it last."""
    rates: dict[str, list[float]] = {"off": [], "on": []}
    with SpanSink() as sink:
        current = None
        for side in ("off", "on", "on", "off") * rounds:
            if side != current:
                restart(stack, OFF if side == "off" else on(sink.port))
                current = side
            rates[side].append(run(throughput(measure, stack, scrape=side == "on")))
        spans = sink.spans
    off, with_both = statistics.mean(rates["off"]), statistics.mean(rates["on"])
    runs = "; ".join(f"{side} {', '.join(f'{r:.1f}' for r in rates[side])}"
                     for side in rates)
    traced = (f"{spans} spans exported" if spans else
              "no span exported: tracing was not on, this measured metrics alone")
    return (f"  observability overhead: off {off:.1f} renders/s, on {with_both:.1f} renders/s "
            f"({(off - with_both) / off * 100:.1f} %)\n"
            f"    runs (off, on, on, off, ...): {runs}; /metrics of every service scraped every "
            f"{SCRAPE_EVERY:g} s; {traced}")
