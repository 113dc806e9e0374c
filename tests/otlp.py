"""A real OTLP/gRPC trace receiver on loopback, keeping what it is sent in memory: the in-memory
exporter's other end, for spans that come from other processes (the services, a subprocess).
It implements opentelemetry.proto.collector.trace.v1.TraceService, as a collector does."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2


@dataclass(frozen=True)
class Span:
    service: str
    """The resource's service.name."""
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    """"" for a root span."""
    kind: int
    attributes: dict
    status_code: int


def _value(value: common_pb2.AnyValue):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs) -> dict:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass
class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: grpc.Server | None = None
    port: int = 0

    @property
    def endpoint(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT is set to."""
        return f"http://127.0.0.1:{self.port}"

    def Export(self, request, context):  # noqa: N802 - the protocol's name
        received = []
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(Span(
                        service=service, name=span.name, trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(),
                        kind=span.kind, attributes=_attributes(span.attributes),
                        status_code=span.status.code))
        with self.lock:
            self.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def all(self) -> list[Span]:
        with self.lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[Span]:
        return [span for span in self.all() if span.trace_id == trace_id]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(grace=None)


def start() -> Receiver:
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    receiver.port = server.add_insecure_port("127.0.0.1:0")
    receiver.server = server
    server.start()
    return receiver
