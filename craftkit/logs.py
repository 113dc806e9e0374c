"""Logs: one line per event, JSON (LOG_FORMAT=json, the default) or readable text
(LOG_FORMAT=text, the lines `make run` used to write). The ids an event concerns (render_id,
project_id, request_id) are bound once with `bound(...)` and appear on every line logged inside it;
trace_id and span_id come from the current OpenTelemetry span.

Every line goes through the standard library's logging (structlog's ProcessorFormatter on the root
handler), so `logging.getLogger(__name__).info("rendered %s", x)` and every library's lines come out
the same way. A JSON line's keys, in order:

    timestamp  level  service  logger  event  [render_id project_id request_id trace_id span_id]
    [exception]  [any extra fields: log.info(..., extra={"route": ...})]

Redaction is the last line of defence, not the first: values of keys named like a secret are
replaced by "[redacted]", and strings shaped like our API keys (`ck_live_…`), webhook secrets
(`whsec_…`), Bearer tokens, passwords in URLs, signatures in query strings and the filename at the
end of a PDF's object key (`renders/<id>/<filename>`: a client's words) are masked wherever they
appear (the message, an exception's text, any field).

`python -m craftkit.logs` reads JSON lines on stdin and prints them as text lines (for tailing
a service's log readably); other lines pass through unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import grpc
import structlog
from opentelemetry import trace

FORMATS = ("json", "text")
IDS = ("render_id", "project_id", "request_id", "trace_id", "span_id")
"""The ids a line carries when they apply, in this order after `event`."""
HANDLER = "craftkit"
"""The name of the root handler `setup` installs."""
REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"secret|passw|token|authorization|api_?key|(^|_)key$", re.I)
"""Field names whose values are never written (key_id is not one: it names a key)."""
SECRET_SHAPES = re.compile(
    r"(?P<prefix>ck_live_|whsec_)[A-Za-z0-9_\-]{4,}"                 # API keys, webhook secrets
    r"|(?P<bearer>\b[Bb]earer\s+)[A-Za-z0-9._~+/=\-]{16,}"              # Authorization values
    r"|(?P<userinfo>\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+(?=@)"  # passwords in URLs
    r"|(?P<url>\bhttps?://[^\s?#'\"]*\?)[^\s#'\"]+"  # query strings (signatures, tokens)
    r"|(?P<param>[?&][\w.\-]*(?:signature|token|secret|credential|key)[\w.\-]*=)[^&#\s\"']+"
    r"|(?P<pdf>\brenders/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)"
    r"[^\s'\"()]+",  # a PDF's object key ends in the filename its client chose (tenant data)
    re.I)
"""Strings shaped like a secret, wherever they appear; the part before the secret is kept."""
_MARKS = ("ck_live_", "whsec_", "bearer", "://", "=", "renders/")
"""A string with none of these (in lower case) matches none of SECRET_SHAPES."""
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
"""What a request id may be (a client's X-Request-Id, an internal caller's metadata)."""
REQUEST_ID_METADATA = "x-request-id"
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REPEATS_EVERY_SECONDS = 10.0
"""A library's line repeated with other arguments is written once per this many seconds."""
REPEATING_LIBRARIES = ("aiokafka",)
"""Libraries that log one failure over and over (aiokafka: each connection error, dozens a second
per process while a broker is away)."""
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "taskName",
    "color_message"}  # uvicorn's copy of the message with terminal colours


def setup(service: str, log_format: str | None = None, stream=None) -> None:
    """Every line of this process, ours and libraries', through one handler in LOG_FORMAT.
    An unknown LOG_FORMAT stops the process naming the variable and the allowed values."""
    log_format = (log_format or os.environ.get("LOG_FORMAT") or "json").strip().lower()
    if log_format not in FORMATS:
        raise SystemExit(f"LOG_FORMAT={log_format!r} is not a log format: use one of "
                         f"{', '.join(FORMATS)}")
    render = JsonLine() if log_format == "json" else TextLine()
    handler = logging.StreamHandler(stream) if stream else StandardError()
    handler.name = HANDLER
    handler.craftkit = (service, render)  # what `write_direct` needs to write a line itself
    handler.addFilter(Repeats())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[merge_ids, extra_fields],
        processors=[Shape(service), redact, render]))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.name != HANDLER] + [handler]
    root.setLevel(logging.INFO)
    structlog.configure(
        processors=[merge_ids, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    # httpx logs every request's full URL at INFO: a presigned S3 URL (the gateway's downloads)
    # carries its signature in the query string, and a webhook URL may carry its receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def write_direct(logger: logging.Logger, level: int, event: str, fields: dict[str, Any]) -> None:
    """Logs `event` with `fields` as `logger.log(level, event, extra=fields)` would, but, where
    only `setup`'s handler listens, writes the line itself: no LogRecord, no structlog chain, no
    masking, a quarter of the cost. For the gateway's access line, once per request (a cached
    GET's whole answer costs about three of these). So `event` and `fields` must hold only what
    the code chose: route templates, methods of a fixed set, numbers, validated ids; never a
    client's text. The line is otherwise the same, keys and order alike; the current span is not
    read (pass trace_id and span_id in `fields`)."""
    if not logger.isEnabledFor(level):
        return
    handlers = logging.root.handlers
    if len(handlers) != 1 or logger.handlers or not hasattr(handlers[0], "craftkit"):
        logger.log(level, "%s", event, extra=fields)  # another handler listens (pytest's caplog)
        return
    handler = handlers[0]
    service, render = handler.craftkit
    method = logging.getLevelName(level).lower()
    line: dict[str, Any] = {"timestamp": time.time(), "level": method, "service": service,
                            "logger": logger.name, "event": event}
    rest = {**_ids.get(), **fields}  # as Shape finds them
    for name in IDS:
        if name in rest:
            line[name] = rest.pop(name)
    line.update(rest)
    text = render(None, method, line)
    with handler.lock:
        handler.stream.write(text + handler.terminator)
        handler.flush()


class Repeats(logging.Filter):
    """Lets a REPEATING_LIBRARIES line through once per REPEATS_EVERY_SECONDS for each message
    (its format string, whatever the arguments) and level; the next one written says how many
    were left out meanwhile. Our own lines always pass."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[tuple, tuple[float, int]] = {}  # key -> (when written, left out since)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(REPEATING_LIBRARIES):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        written, left_out = self.shown.get(key, (None, 0))
        if written is not None and now - written < REPEATS_EVERY_SECONDS:
            self.shown[key] = (written, left_out + 1)
            return False
        self.shown[key] = (now, 0)
        if left_out:
            # No "%" added: the format string stays one for the record's arguments.
            record.msg = (f"{record.msg} ({left_out} more like it in the last "
                          f"{REPEATS_EVERY_SECONDS:.0f} s)")
        return True


class StandardError(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (as logging.lastResort does)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_once(service: str) -> None:
    """`setup` unless this process did it already (a gateway worker process that uvicorn
    spawned builds its app without running the gateway's __main__)."""
    if not any(handler.name == HANDLER for handler in logging.getLogger().handlers):
        setup(service)


_ids: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("craftkit_log_ids",
                                                                       default={})
"""The ids bound here: one variable holding them all (set and reset once per `bound`, a fifth of
the cost of structlog's variable per key, paid by every request)."""


@contextlib.contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Every line logged inside (in this task and the tasks it starts) carries these ids;
    empty ones are left out."""
    token = _ids.set({**_ids.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _ids.reset(token)


def current(name: str) -> str | None:
    """The id bound as `name` here (request_id for an error body, the next gRPC call), or None."""
    return _ids.get().get(name)


def merge_ids(logger, method: str, event: dict) -> dict:
    """The bound ids into a line's fields (a field the call passed itself wins)."""
    for name, value in _ids.get().items():
        event.setdefault(name, value)
    return event


def ids_of(message: object) -> dict[str, str]:
    """The project_id and render_id a gRPC request names (when they are ids: a client's junk
    render id is not logged)."""
    ids = {}
    for name in ("project_id", "render_id"):
        value = getattr(message, name, None)
        if isinstance(value, str) and UUID.fullmatch(value):
            ids[name] = value.lower()
    return ids


def valid_request_id(value: object) -> str | None:
    """`value` when it may be a request id (1-64 of [A-Za-z0-9._:-]), else None."""
    if isinstance(value, str) and REQUEST_ID.fullmatch(value):
        return value
    return None


def extra_fields(logger, method: str, event: dict) -> dict:
    """The fields a call passed as `extra={...}` (what a LogRecord does not hold by itself)."""
    for name, value in vars(event["_record"]).items():
        if name not in _RECORD_FIELDS and not name.startswith("_"):
            event[name] = value
    return event


class Shape:
    """The event dict in the documented key order, with the service's name, the record's time,
    level and logger, the current span's ids and the exception's text."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, logger, method: str, event: dict) -> dict:
        record: logging.LogRecord = event.pop("_record")
        event.pop("_from_structlog", None)
        shaped: dict[str, Any] = {"timestamp": record.created, "level": method,
                                  "service": self.service, "logger": record.name,
                                  "event": event.pop("event", "")}
        for name in IDS:
            if name in event:
                shaped[name] = event.pop(name)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            shaped["trace_id"] = format(context.trace_id, "032x")
            shaped["span_id"] = format(context.span_id, "016x")
        exc_info = event.pop("exc_info", None)
        if exc_info:
            shaped["exception"] = logging.Formatter().formatException(exc_info)
        for name in ("positional_args", "stack_info"):
            event.pop(name, None)
        shaped.update(event)
        return shaped


@functools.lru_cache(maxsize=1024)
def secret_name(name: str) -> bool:
    """Whether a field named `name` holds a secret (names come from code: a bounded set)."""
    return bool(SECRET_NAME.search(name))


def redact(logger, method: str, event: dict) -> dict:
    """Values of keys named like a secret are replaced; secret-shaped strings masked."""
    for name, value in event.items():
        if secret_name(name):
            event[name] = REDACTED
        elif isinstance(value, str):
            event[name] = mask(value)
        elif isinstance(value, dict | list | tuple):
            event[name] = _redact_nested(value)
    return event


def _redact_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and secret_name(k)
                else _redact_nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_nested(v) for v in value]
    return mask(value) if isinstance(value, str) else value


def mask(text: str) -> str:
    """`text` with every secret-shaped part replaced by [redacted] (its prefix kept). Most
    strings hold none of the marks every shape has, and skip the regular expression."""
    folded = text.lower()
    if not any(mark in folded for mark in _MARKS):
        return text
    return SECRET_SHAPES.sub(_masked, text)


def _masked(match: re.Match) -> str:
    kept = next(group for group in match.groups() if group is not None)
    return f"{kept}{REDACTED}"


class JsonLine:
    """One JSON object: the timestamp in ISO 8601 UTC with milliseconds and `Z`."""

    def __call__(self, logger, method: str, event: dict) -> str:
        event["timestamp"] = iso_utc(event["timestamp"])
        return json.dumps(event, default=str, ensure_ascii=False)


def iso_utc(created: float) -> str:
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created * 1000) % 1000:03d}Z")


class TextLine:
    """`time service LEVEL logger: message key=value ...`, the exception below it."""

    def __call__(self, logger, method: str, event: dict) -> str:
        return text_line(event, local_time(event["timestamp"]))


def local_time(created: float) -> str:
    """The standard library's asctime: `2026-11-24 13:44:18,123`, local time."""
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
            + f",{int(created * 1000) % 1000:03d}")


def text_line(event: dict, when: str) -> str:
    rest = {k: v for k, v in event.items()
            if k not in ("timestamp", "level", "service", "logger", "event", "exception")}
    fields = "".join(f" {k}={v}" for k, v in rest.items())
    line = (f"{when} {event.get('service', '-')} {str(event.get('level', '')).upper()} "
            f"{event.get('logger', '-')}: {event.get('event', '')}{fields}")
    if event.get("exception"):
        line += "\n" + event["exception"]
    return line


def pretty(line: str) -> str:
    """A JSON log line as a text line (its timestamp as written); other lines unchanged."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.rstrip("\n")
    if not isinstance(event, dict) or "event" not in event:
        return line.rstrip("\n")
    return text_line(event, str(event.get("timestamp", "")))


# gRPC: the request id crosses every internal call as x-request-id metadata.

class _ClientRequestId(grpc.aio.UnaryUnaryClientInterceptor,
                       grpc.aio.UnaryStreamClientInterceptor):
    """Sends the bound request id (if any) as x-request-id metadata."""

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(_with_request_id(details), request)

    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(_with_request_id(details), request)


def _with_request_id(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    request_id = current("request_id")
    if request_id is None:
        return details
    metadata = [(k, v) for k, v in (details.metadata or ()) if k != REQUEST_ID_METADATA]
    return grpc.aio.ClientCallDetails(details.method, details.timeout,
                                      [*metadata, (REQUEST_ID_METADATA, request_id)],
                                      details.credentials, details.wait_for_ready)


class _ServerRequestId(grpc.aio.ServerInterceptor):
    """Binds the caller's x-request-id (when it is a valid one) as request_id for the call.
    An internal caller is trusted with it, but it stays bounded like a client's."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        request_id = next((valid_request_id(v) for k, v in details.invocation_metadata or ()
                           if k == REQUEST_ID_METADATA), None)
        if handler is None or request_id is None:
            return handler
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(request, context):
                with bound(request_id=request_id):
                    return await inner(request, context)

            return handler._replace(unary_unary=unary_unary)
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def unary_stream(request, context):
                with bound(request_id=request_id):
                    async for reply in inner_stream(request, context):
                        yield reply

            return handler._replace(unary_stream=unary_stream)
        return handler


def server_interceptors() -> list:
    """grpc.aio server interceptors binding the caller's request id (x-request-id metadata)."""
    return [_ServerRequestId()]


def client_interceptors() -> list:
    """grpc.aio client interceptors sending the bound request id as x-request-id metadata."""
    return [_ClientRequestId()]


def main() -> None:
    """Reads JSON log lines on stdin, prints them as text: `tail -f x.log | python -m
    craftkit.logs`."""
    try:
        for line in sys.stdin:
            print(pretty(line), flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()
