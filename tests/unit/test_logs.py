"""craftkit.logs: what an operator reads in a service's log."""

from __future__ import annotations

import io
import json
import logging
import re

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider

from craftkit import logs


@pytest.fixture
def output():
    """The root logger set up as a service sets it, writing to a buffer; restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()

    def setup(log_format: str = "json", service: str = "enqueue") -> io.StringIO:
        logs.setup(service, log_format, stream=buffer)
        return buffer

    yield setup
    root.handlers, root.level = handlers, level


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_line_keys_in_order(output):
    buffer = output()
    logging.getLogger("services.enqueue").info("render %s of %s", "accepted", "invoice")
    [line] = lines(buffer)
    assert list(line) == ["timestamp", "level", "service", "logger", "event"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    assert line["level"] == "info" and line["service"] == "enqueue"
    assert line["logger"] == "services.enqueue" and line["event"] == "render accepted of invoice"


def test_bound_ids_extra_fields_and_exception(output):
    buffer = output()
    log = logging.getLogger("worker")
    with logs.bound(request_id="req-1", render_id="r-1", project_id="p-1", ignored=None):
        try:
            raise ValueError("bad data")
        except ValueError:
            log.exception("render failed", extra={"attempt": 2})
    log.warning("after")
    first, after = lines(buffer)
    assert list(first) == ["timestamp", "level", "service", "logger", "event", "render_id",
                           "project_id", "request_id", "exception", "attempt"]
    assert first["level"] == "error" and first["attempt"] == 2
    assert "Traceback" in first["exception"] and "ValueError: bad data" in first["exception"]
    assert after["level"] == "warning" and "render_id" not in after


async def test_ids_bound_in_a_task_reach_the_tasks_it_starts(output):
    import asyncio
    buffer = output()

    async def child():
        logging.getLogger("c").info("in the child")

    with logs.bound(render_id="r-2"):
        await asyncio.create_task(child())
    assert lines(buffer)[0]["render_id"] == "r-2"


def test_text_format_is_the_readable_line_with_ids_appended(output):
    buffer = output("text", service="gateway")
    with logs.bound(request_id="abc"):
        logging.getLogger("services.gateway").warning("slow %d", 3, extra={"route": "/x"})
    line = buffer.getvalue().rstrip("\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} gateway WARNING "
                        r"services\.gateway: slow 3 request_id=abc route=/x", line)


def test_trace_and_span_ids_of_the_current_span(output):
    buffer = output()
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("render") as span:
        logging.getLogger("w").info("inside")
    logging.getLogger("w").info("outside")
    inside, outside = lines(buffer)
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside


API_KEY = "ck_live_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
WEBHOOK_SECRET = "whsec_" + "z9Y8x7W6v5U4t3S2r1Q0p9O8n7M6l5K4j3I2h1G0f9e"


def test_secrets_redacted_by_field_name_and_by_shape(output):
    buffer = output()
    logging.getLogger("x").info(
        "key %s, Authorization: Bearer %s, db postgresql://craftkit:hunter2@db/craftkit, "
        "pdf https://s3.example/b/r.pdf?X-Amz-Signature=f00d&X-Amz-Date=1", API_KEY,
        "q" * 43, extra={"secret": "s3cr3t", "api_key": "k", "password": "p",
                         "authorization": "Basic eA==", "key": "raw", "key_id": "kid-1",
                         "webhook": {"secret": "s", "urls": [f"see {WEBHOOK_SECRET}"]}})
    [line] = lines(buffer)
    text = json.dumps(line)
    for secret in (API_KEY, WEBHOOK_SECRET, "q" * 43, "hunter2", "f00d", "s3cr3t", "eA=="):
        assert secret not in text
    assert "ck_live_[redacted]" in line["event"] and "Bearer [redacted]" in line["event"]
    assert "postgresql://craftkit:[redacted]@db/craftkit" in line["event"]
    assert line["secret"] == line["api_key"] == line["password"] == line["key"] == "[redacted]"
    assert line["key_id"] == "kid-1"  # names a key, is not one
    assert line["webhook"] == {"secret": "[redacted]", "urls": ["see whsec_[redacted]"]}


def test_secrets_in_an_exception_are_masked(output):
    buffer = output()
    try:
        raise RuntimeError(f"refused {API_KEY}")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    assert API_KEY not in buffer.getvalue() and "ck_live_[redacted]" in buffer.getvalue()


def test_help_texts_naming_the_key_format_stay_readable():
    text = "send your API key as 'Authorization: Bearer ck_live_…'"
    assert logs.mask(text) == text


def test_unknown_log_format_stops_the_process_naming_the_variable(output, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    with pytest.raises(SystemExit) as stopped:
        logs.setup("status")
    assert "LOG_FORMAT" in str(stopped.value) and "json, text" in str(stopped.value)


def test_libraries_are_quietened(output):
    buffer = output()
    logging.getLogger("httpx").info("HTTP Request: GET https://s3/x?X-Amz-Signature=1")
    logging.getLogger("aiokafka").warning("noisy")
    assert buffer.getvalue() == ""


def test_pretty_printer_turns_json_lines_into_text_lines():
    line = json.dumps({"timestamp": "2026-11-24T10:00:00.000Z", "level": "info",
                       "service": "status", "logger": "s", "event": "hi", "render_id": "r"})
    assert logs.pretty(line + "\n") == "2026-11-24T10:00:00.000Z status INFO s: hi render_id=r"
    assert logs.pretty("---- starting status\n") == "---- starting status"


def test_request_ids_are_bounded():
    assert logs.valid_request_id("a.b:c-d_1") == "a.b:c-d_1"
    for bad in ("", "x" * 65, "a\nb", "é", "a b", None, b"bytes"):
        assert logs.valid_request_id(bad) is None


def test_ids_of_a_grpc_request_are_only_ids():
    class Request:
        project_id = "0190A5E0-0000-7000-8000-000000000001"
        render_id = "../../etc"

    assert logs.ids_of(Request()) == {"project_id": "0190a5e0-0000-7000-8000-000000000001"}


async def test_request_id_crosses_grpc(output):
    """A client call made with a request id bound carries it as metadata; the server binds it
    (a real grpc.aio server and channel on loopback)."""
    buffer = output()
    seen = {}

    async def echo(request: bytes, context) -> bytes:
        seen["request_id"] = logs.current("request_id")
        logging.getLogger("server").info("handled")
        return request

    server = grpc.aio.server(interceptors=logs.server_interceptors())
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Echo", {"Call": grpc.unary_unary_rpc_method_handler(echo)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}",
                                             interceptors=logs.client_interceptors()) as channel:
            call = channel.unary_unary("/test.Echo/Call")
            with logs.bound(request_id="req-42"):
                assert await call(b"x", timeout=5) == b"x"
            assert seen["request_id"] == "req-42"
            await call(b"y", timeout=5, metadata=[("x-request-id", "x" * 65)])
            assert seen["request_id"] is None
    finally:
        await server.stop(None)
    assert [line.get("request_id") for line in lines(buffer)] == ["req-42", None]


def test_a_library_repeating_one_error_writes_it_once_per_interval(output, monkeypatch):
    """A broker outage makes aiokafka log the same connection errors dozens of times a second
    per process; the operator's `select(.level == "error")` must still show something else."""
    now = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: now[0])
    buffer = output()
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    for node in range(500):  # the same message, other arguments: one line
        logging.getLogger("aiokafka").error("Unable connect to node with id %s: %s", node, "refused")
        fetcher.error("Failed fetch messages from %s: %s", node, "NodeNotReadyError")
    logging.getLogger("craftkit.service").error("kafka NOT_SERVING: unreachable")  # ours: kept
    now[0] += logs.REPEATS_EVERY_SECONDS
    logging.getLogger("aiokafka").error("Unable connect to node with id %s: %s", 1, "refused")
    events = [line["event"] for line in lines(buffer)]
    assert events == [
        "Unable connect to node with id 0: refused",
        "Failed fetch messages from 0: NodeNotReadyError",
        "kafka NOT_SERVING: unreachable",
        "Unable connect to node with id 1: refused (499 more like it in the last 10 s)"]


def test_a_pdfs_filename_in_an_s3_url_is_masked_the_render_id_kept(output):
    """A render's object key ends in the filename its client chose ("Invoice-Jane-Doe.pdf"):
    tenant data, which urllib3's retry warnings and S3 errors (the URL they name) would
    otherwise write into the worker's and the status service's logs."""
    buffer = output()
    render_id = "01a20e2c-354c-74f6-a75c-cb65e328bbb8"
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying (Retry(total=1)) after connection broken by 'ReadTimeoutError(...)': "
        "/craftkit-renders/renders/%s/Invoice-Jane%%20Doe.pdf", render_id)
    logging.getLogger("x").warning(
        "S3 unreachable: MaxRetryError: HTTPConnectionPool(host='s3', port=9000): Max retries "
        "exceeded with url: /craftkit-renders/renders/%s/Invoice-Jane-Doe.pdf (Caused by x)",
        render_id.upper())
    assert "Jane" not in buffer.getvalue()
    assert [f"renders/{render_id}/[redacted]" in line["event"].lower()
            for line in lines(buffer)] == [True, True]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_line_written_directly_is_the_line_logging_writes(output, log_format):
    """The gateway's access line skips logging's machinery (logs.write_direct): what it writes
    must not differ from the same line logged the usual way, bound ids and their order included."""
    buffer = output(log_format, service="gateway")
    access = logging.getLogger("services.gateway.access")
    fields = {"method": "GET", "route": "/v1/renders/{id}", "status": 200, "duration_ms": 1.5,
              "bytes": 420, "project_id": "p-1", "trace_id": "a" * 32}
    with logs.bound(request_id="req-7", render_id="r-1", attempt="2"):
        access.info("%s", "GET /v1/renders/{id} 200", extra=fields)
        logs.write_direct(access, logging.INFO, "GET /v1/renders/{id} 200", fields)
        logs.write_direct(access, logging.DEBUG, "not written: below INFO", fields)
    logged, direct = buffer.getvalue().splitlines()
    when = r"^\S+ \S+ " if log_format == "text" else r'"timestamp": "[^"]+"'
    assert re.sub(when, "", direct) == re.sub(when, "", logged)
    assert "req-7" in direct and "attempt" in direct


def test_a_line_written_directly_reaches_other_handlers_through_logging(output, caplog):
    buffer = output()
    caplog.set_level(logging.INFO, logger="services.gateway.access")
    logs.write_direct(logging.getLogger("services.gateway.access"), logging.INFO, "GET / 200",
                      {"status": 200})
    [record] = [r for r in caplog.records if r.name == "services.gateway.access"]
    assert record.getMessage() == "GET / 200" and record.status == 200
    assert lines(buffer)[0]["status"] == 200
