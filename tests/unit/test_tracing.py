"""craftkit.tracing: off (no endpoint, or OTEL_SDK_DISABLED) it installs nothing and every hook is
empty; on, a process exports its spans over OTLP and its Kafka headers carry their context.
The "on" cases run in a child process, since a tracer provider is installed once per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace

from craftkit import tracing
from services.gateway import tracing as gateway_tracing
from tests import otlp

ROOT = Path(__file__).resolve().parents[2]
TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def no_otel(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


def test_without_an_endpoint_nothing_is_installed_and_every_hook_is_empty(no_otel):
    assert tracing.setup("status") is False
    assert not tracing.enabled()
    assert tracing.server_interceptors() == [] and tracing.client_interceptors() == []
    assert gateway_tracing.middleware() == []
    with tracing.tracer.start_as_current_span("render") as span:
        assert not span.is_recording()
        assert tracing.inject() == []
        assert tracing.current_fields() == {}
    # Consumers skip reading headers altogether: a new (non-recorded) trace.
    assert trace.get_current_span(tracing.extract([("traceparent", TRACEPARENT)])) is \
        trace.INVALID_SPAN


@pytest.mark.parametrize("env", [
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_SDK_DISABLED": "true"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": " "},
])
def test_the_standard_switches_turn_it_off(no_otel, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing.setup("status") is False
    assert tracing.server_interceptors() == []


CHILD = """
    import asyncio
    from opentelemetry import trace
    from craftkit import tracing

    assert tracing.setup("unit") and tracing.setup("unit")  # twice: the same provider
    assert tracing.server_interceptors() and tracing.client_interceptors()
    with tracing.tracer.start_as_current_span("written") as span:
        headers = tracing.inject()
        print("trace", format(span.get_span_context().trace_id, "032x"))
        print("span", format(span.get_span_context().span_id, "016x"))
    assert [name for name, _ in headers] == ["traceparent"], headers
    # What a consumer of the message does: continue the writer's trace.
    with tracing.tracer.start_as_current_span("read", context=tracing.extract(headers)):
        pass
    # A message from another producer, without headers: a trace of its own.
    with tracing.tracer.start_as_current_span("other", context=tracing.extract(None)):
        pass
    asyncio.run(tracing.flush())
"""


def traced_child(script: str, **env: str) -> tuple[str, list]:
    """Runs `script` in a new Python process exporting to a real OTLP receiver: its output, and
    the spans the receiver got."""
    receiver = otlp.start()
    try:
        child = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
            text=True, timeout=120,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, **env})
        assert child.returncode == 0, child.stderr
        return child.stdout, receiver.all()
    finally:
        receiver.stop()


def test_a_process_exports_its_spans_and_its_messages_continue_the_trace(no_otel):
    # One config.env serves every service: a service name there must not rename them all.
    output, received = traced_child(CHILD, OTEL_SERVICE_NAME="overridden")
    ids = dict(line.split() for line in output.splitlines())
    spans = {span.name: span for span in received}
    assert set(spans) == {"written", "read", "other"}
    assert {span.service for span in spans.values()} == {"craftkit-unit"}
    assert (spans["written"].trace_id, spans["written"].span_id) == (ids["trace"], ids["span"])
    assert (spans["read"].trace_id, spans["read"].parent_id) == (ids["trace"], ids["span"])
    assert spans["other"].trace_id != ids["trace"] and spans["other"].parent_id == ""


def test_stored_fields_become_headers_and_nothing_else(no_otel):
    fields = {"traceparent": TRACEPARENT.decode(), "tracestate": "a=1", "baggage": "k=v"}
    assert tracing.as_headers(fields) == [("traceparent", TRACEPARENT), ("tracestate", b"a=1")]
    assert tracing.as_headers(None) == [] and tracing.as_headers({}) == []


FLOOD = """
    import asyncio
    from craftkit import tracing

    assert tracing.setup("unit")
    for _ in range(300):  # a stranger's requests, each with a 60 kB User-Agent
        with tracing.tracer.start_as_current_span("GET /v1/renders") as span:
            span.set_attribute("http.user_agent", "U" * 60_000)
    with tracing.tracer.start_as_current_span("POST /v1/templates/{slug}/render"):
        pass  # another project's request, in the same batch
    asyncio.run(tracing.flush())
"""


def test_a_clients_huge_header_values_do_not_stop_everyones_spans_from_exporting(no_otel):
    """Span attributes are capped (MAX_ATTRIBUTE_CHARS): uncapped, a batch of spans each holding
    a client's 60 kB User-Agent is over gRPC's 4 MiB message limit, the collector refuses it
    (RESOURCE_EXHAUSTED) and every span in it, other projects' too, is dropped."""
    _, spans = traced_child(FLOOD, OTEL_EXPORTER_OTLP_TIMEOUT="3")
    assert "POST /v1/templates/{slug}/render" in {span.name for span in spans}
    agents = [span.attributes["http.user_agent"] for span in spans
              if "http.user_agent" in span.attributes]
    assert len(agents) == 300 and {len(agent) for agent in agents} == {tracing.MAX_ATTRIBUTE_CHARS}


@pytest.mark.parametrize("name", ["OTEL_EXPORTER_OTLP_ENDPOINT",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_an_endpoint_with_a_password_stops_the_process_without_writing_it(no_otel, monkeypatch,
                                                                          name):
    """gRPC would take "user:password@collector:4317" for a host name, export nothing, and log
    that endpoint, password and all, with every failed export."""
    monkeypatch.setenv(name, "https://user:hunter2@collector.example:4317")
    with pytest.raises(SystemExit, match=f"{name} holds a user name or password") as stopped:
        tracing.setup("status")
    assert "hunter2" not in str(stopped.value) and not tracing.enabled()
