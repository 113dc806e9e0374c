"""What metrics and tracing cost the render pipeline: renders/s with both off, then on.

Off: no METRICS_LISTEN and no OTEL_EXPORTER_OTLP_ENDPOINT (nothing served, the API's no-op
tracer). On: every service serves /metrics, scraped every second by this process as Prometheus
would, and exports its spans over OTLP/gRPC to a sink here that counts and discards them.

Every service is restarted between the two settings. The runs go off, on, on, off (ABBA), so a
machine that speeds up or slows down during the bench (2 cores, a cache warming) weighs on both
sides alike; each side's figure is the mean of its runs. Besides renders/s, the CPU time the
services spend per render (their processes and render processes, from /proc): on a machine
shared with other work, renders/s moves with the neighbours' load, the CPU per render much less.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
import httpx
import psutil
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


def cpu_seconds(stack: Stack) -> float:
    """CPU time (user + system) the services have used so far: each service's process, the
    children it has reaped (render processes replaced) and those alive (the render pool)."""
    total = 0.0
    for popen in stack.processes.values():
        process = psutil.Process(popen.pid)
        times = process.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
    return total


@dataclass
class Run:
    rate: float
    """renders/s"""
    cpu_ms: float
    """the services' CPU time per render"""


async def throughput(measure, stack: Stack, scrape: bool) -> Run:
    """One `measure()` run (after a short warm-up), scraping meanwhile if asked."""
    await measure(2)  # warm-up: the restarted services' connections, imports and caches
    stop = asyncio.Event()
    scraper = asyncio.create_task(scraping(stack, stop)) if scrape else None
    cpu = cpu_seconds(stack)
    try:
        rate, renders = await measure(None)
    finally:
        stop.set()
        if scraper is not None:
            await scraper
    return Run(rate, (cpu_seconds(stack) - cpu) * 1000 / max(renders, 1))


def overhead(stack: Stack, run, measure, rounds: int = 1) -> str:
    """`measure(seconds or None)` is a coroutine function giving (renders/s, renders) (None: the
    bench's length); `run` runs one coroutine to completion. `rounds` of off, on, on, off.
    Leaves the services restarted with both off: run it last."""
    runs: dict[str, list[Run]] = {"off": [], "on": []}
    with SpanSink() as sink:
        current = None
        for side in ("off", "on", "on", "off") * rounds:
            if side != current:
                restart(stack, OFF if side == "off" else on(sink.port))
                current = side
            runs[side].append(run(throughput(measure, stack, scrape=side == "on")))
        spans = sink.spans
    rate = {side: statistics.mean(r.rate for r in runs[side]) for side in runs}
    cpu = {side: statistics.mean(r.cpu_ms for r in runs[side]) for side in runs}
    each = "; ".join(f"{side} {', '.join(f'{r.rate:.1f}' for r in runs[side])}"
                     for side in runs)
    traced = (f"{spans} spans exported" if spans else
              "no span exported: tracing was not on, this measured metrics alone")
    return (f"  observability overhead: off {rate['off']:.1f} renders/s, on {rate['on']:.1f} "
            f"renders/s ({(rate['off'] - rate['on']) / rate['off'] * 100:.1f} %)\n"
            f"    the services' CPU per render: off {cpu['off']:.1f} ms, on {cpu['on']:.1f} ms "
            f"({(cpu['on'] - cpu['off']) / cpu['off'] * 100:+.1f} %; steadier than renders/s "
            "on a busy machine)\n"
            f"    renders/s of each run (off, on, on, off, ...): {each}; /metrics of every "
            f"service scraped every {SCRAPE_EVERY:g} s; {traced}")
