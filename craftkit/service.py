"""What every gRPC server process shares: authenticated servers and channels (see
craftkit.internal_auth), health reporting from real dependency checks, and a graceful stop on
SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import psycopg
import psycopg_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from craftkit import errors, internal_auth, logs, metrics, tracing
from craftkit.internal_auth import ClientSecurity, ServerSecurity

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


# Assets (images) travel over gRPC: allow messages well above the 5 MiB asset limit.
MESSAGE_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024),
                   ("grpc.max_send_message_length", 16 * 1024 * 1024)]


# The calls that only read, so a retry can do no harm: on UNAVAILABLE (a pod stopping, a
# connection cut) the channel tries them again, on another pod when there is one. Writes are
# never retried by the channel: the caller decides (EnqueueRender has its own dedupe window).
IDEMPOTENT_READS = {
    "craftkit.v1.StatusService": ["GetRender", "WaitRender"],
    "craftkit.v1.TemplateService": ["GetTemplate", "ListTemplates", "GetVersionSchema",
                                    "ListAssets", "GetAssetData"],
    "craftkit.v1.ProjectService": ["Authenticate"],
    "craftkit.v1.InboundHookService": ["ListInboundHooks", "ResolveInboundHook"],
    "craftkit.v1.WebhookService": ["ListEndpoints", "ListDeliveries"],
    "grpc.health.v1.Health": ["Check"],
}

# round_robin spreads calls over every address the name resolves to: with `dns:///name:port`
# naming a headless Service, over every ready pod (pick_first, the default, sends them all to
# one). retryThrottling stops retries when most calls fail, so an outage is not multiplied.
SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
        "name": [{"service": service, "method": method}
                 for service, methods in IDEMPOTENT_READS.items() for method in methods],
        "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }],
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
})

# Pings on idle connections find a dead peer (a node gone without a FIN) in 40 s instead of the
# kernel's hours; servers allow pings that often (their default refuses more than one in 5 min).
# Reconnecting to a server that was away waits 0.2 s growing to at most 5 s (gRPC's default cap,
# 2 minutes, kept callers failing that long after a backend came back).
KEEPALIVE_MS = 30_000
CLIENT_OPTIONS = [("grpc.service_config", SERVICE_CONFIG),
                  ("grpc.enable_retries", 1),
                  ("grpc.initial_reconnect_backoff_ms", 200),
                  ("grpc.max_reconnect_backoff_ms", 5_000),
                  ("grpc.keepalive_time_ms", KEEPALIVE_MS),
                  ("grpc.keepalive_timeout_ms", 10_000),
                  ("grpc.keepalive_permit_without_calls", 1),
                  ("grpc.http2.max_pings_without_data", 0)]
# Connections end after 5 minutes (calls in flight get 60 s more, above the 30 s a sync render
# may wait): clients then resolve the name again and spread over pods added since.
SERVER_OPTIONS = [("grpc.keepalive_permit_without_calls", 1),
                  ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_MS // 2),
                  ("grpc.max_connection_age_ms", 300_000),
                  ("grpc.max_connection_age_grace_ms", 60_000)]


def channel(address: str, security: ClientSecurity) -> grpc.aio.Channel:
    """A client channel to one of our servers, sending this caller's token on every call (over
    TLS when GRPC_TLS_CA_FILE is set). The address is `host:port`, or `dns:///host:port` to
    balance over every address the name has (a headless Service's pods)."""
    options = [*MESSAGE_OPTIONS, *CLIENT_OPTIONS]
    interceptors = [*tracing.client_interceptors(), *metrics.client_interceptors(),
                    *logs.client_interceptors(),
                    internal_auth.BearerToken(internal_auth.TokenFile(security.token_file))]
    if security.tls_ca_file:
        return grpc.aio.secure_channel(address, _client_tls(security), options=options,
                                       interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


def blocking_channel(address: str, security: ClientSecurity) -> grpc.Channel:
    """The same as `channel`, for blocking callers (the admin console, the dev tools)."""
    options = [*MESSAGE_OPTIONS, *CLIENT_OPTIONS]
    base = (grpc.secure_channel(address, _client_tls(security), options=options)
            if security.tls_ca_file else grpc.insecure_channel(address, options=options))
    return grpc.intercept_channel(
        base, internal_auth.SyncBearerToken(internal_auth.TokenFile(security.token_file)))


def _client_tls(security: ClientSecurity) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=_read(security.tls_ca_file,
                                                                "GRPC_TLS_CA_FILE"))


def _read(path: str, setting: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise SystemExit(f"{setting} {path}: {exc.strerror}") from None


class Server:
    """The API server and, with GRPC_HEALTH_LISTEN, a plaintext server of grpc.health.v1 alone
    beside it (kubelet's gRPC probes cannot speak TLS), started and stopped together. Servicers
    are added to the API server (the generated add_*_to_server functions call these two)."""

    def __init__(self, api: grpc.aio.Server, probes: grpc.aio.Server | None = None,
                 probe_port: int = 0) -> None:
        self.api, self.probes, self.probe_port = api, probes, probe_port

    def add_generic_rpc_handlers(self, handlers) -> None:
        self.api.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service, handlers) -> None:
        self.api.add_registered_method_handlers(service, handlers)

    def servers(self) -> list[grpc.aio.Server]:
        return [self.api] + ([self.probes] if self.probes is not None else [])

    async def start(self) -> None:
        for server in self.servers():
            await server.start()

    async def stop(self, grace: float | None) -> None:
        await asyncio.gather(*(server.stop(grace) for server in self.servers()))


def create_server(address: str, security: ServerSecurity
                  ) -> tuple[Server, int, health.aio.HealthServicer]:
    """A gRPC server with the health service, refusing every other call without a caller's token
    (TLS only when GRPC_TLS_CERT_FILE is set). Service "liveness" answers SERVING for as long as
    the process runs (for liveness probes); "" and each named service follow the dependencies."""
    tokens = internal_auth.TokenDirectory(security.tokens_dir)
    server = grpc.aio.server(
        interceptors=[*tracing.server_interceptors(), *metrics.server_interceptors(),
                      *logs.server_interceptors(), internal_auth.AuthInterceptor(tokens),
                      ApiErrorInterceptor()],
        options=[("grpc.so_reuseport", 0), *MESSAGE_OPTIONS, *SERVER_OPTIONS])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    credentials = None
    if security.tls_cert_file:
        credentials = Certificate(security.tls_cert_file, security.tls_key_file).credentials()
    port = _listen(server, address, credentials)
    if not security.health_listen:
        return Server(server), port, health_servicer
    probes, probe_port, _ = create_health_server(security.health_listen, health_servicer)
    return Server(server, probes, probe_port), port, health_servicer


class Certificate:
    """The server's certificate and key, read again when they change (cert-manager renews them
    in place; internal_auth.Reloaded): gRPC asks at every TLS handshake, and keeps what it has
    when the answer is None. A pair that does not match (caught between two writes) is not
    taken."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file, self.key_file = cert_file, key_file

    def credentials(self) -> grpc.ServerCredentials:
        try:
            self.current = internal_auth.Reloaded(
                [Path(self.cert_file), Path(self.key_file)], self._read,
                f"TLS certificate of {self.cert_file}")
        except OSError as exc:  # ssl.SSLError is one
            raise SystemExit(f"GRPC_TLS_CERT_FILE {self.cert_file}, GRPC_TLS_KEY_FILE "
                             f"{self.key_file}: {exc}") from None
        self.served = self.current.value
        return grpc.dynamic_ssl_server_credentials(self.served, self.fetch)

    def _read(self) -> grpc.ServerCertificateConfiguration:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert_file, self.key_file)
        with open(self.cert_file, "rb") as cert, open(self.key_file, "rb") as key:
            return grpc.ssl_server_certificate_configuration([(key.read(), cert.read())])

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC at each handshake: a new configuration once the files changed."""
        configuration = self.current.get()
        if configuration is self.served:
            return None
        self.served = configuration
        return configuration


def create_health_server(address: str, servicer: health.aio.HealthServicer | None = None
                         ) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A plaintext server of grpc.health.v1 alone, which needs no credentials: the render
    worker's health endpoint, and the probe port of servers that speak TLS."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return server, _listen(server, address, None), servicer


def _listen(server: grpc.aio.Server, address: str,
            credentials: grpc.ServerCredentials | None) -> int:
    try:
        port = (server.add_secure_port(address, credentials) if credentials
                else server.add_insecure_port(address))
    except RuntimeError:
        port = 0
    if not port:
        raise SystemExit(f"cannot listen on {address}: the address is in use or invalid")
    return port


async def watch_dependencies(servicer: health.aio.HealthServicer, services: list[str],
                             checks: dict[str, Check], interval: float = 1.0, *,
                             optional: tuple[str, ...] = ()) -> None:
    """Reports each dependency under a health service of its own, named after its check
    ("postgresql", "kafka", ...), and "" plus `services` SERVING while every check not in
    `optional` passes. An optional dependency is one the server does its job without for a while
    (enqueue while Kafka is down: the outbox keeps every 202 safe), so operators still see it
    down by name without the server being taken out of service. A check fails by returning False
    or by raising; the exception's message is logged as the reason."""
    SERVING, NOT_SERVING = (health_pb2.HealthCheckResponse.SERVING,
                            health_pb2.HealthCheckResponse.NOT_SERVING)
    await servicer.set("liveness", SERVING)
    reported: dict[str, int] = {}
    reasons: dict[str, str | None] = {}
    while True:
        now = {name: await failure(check) for name, check in checks.items()}
        for name, reason in now.items():
            if reason != reasons.get(name, "unknown"):
                if reason:
                    log.warning("%s NOT_SERVING: %s", name, reason)
                elif name in reasons:
                    log.info("%s SERVING", name)
        reasons = now
        overall = NOT_SERVING if any(now[n] for n in now if n not in optional) else SERVING
        metrics.report_health(overall == SERVING, {name: not reason for name, reason in now.items()})
        wanted = {**{n: NOT_SERVING if r else SERVING for n, r in now.items()},
                  **{service: overall for service in ["", *services]}}
        for service, status in wanted.items():
            if reported.get(service) != status:
                await servicer.set(service, status)
                reported[service] = status
        await asyncio.sleep(interval)


async def failure(check: Check, timeout: float = 5) -> str | None:
    """Why `check` fails (None when it passes)."""
    try:
        if await asyncio.wait_for(check(), timeout=timeout):
            return None
        return "unreachable"
    except asyncio.TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - a check that raises is a failing check
        return str(exc) or type(exc).__name__


async def cancel(tasks) -> None:
    """Cancels background tasks and waits until each has finished."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_until_terminated(server: Server | grpc.aio.Server,
                               servicer: health.aio.HealthServicer, grace: float = 5.0) -> None:
    """Waits for SIGTERM or SIGINT, then stops taking calls and lets running ones finish (and
    exports their spans, in case the process is killed before it exits)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    metrics.report_health(False, {})
    await servicer.enter_graceful_shutdown()
    await server.stop(grace)
    await tracing.flush()


# gRFC A6 server pushback: a negative value tells the caller's channel not to retry. Every
# replica shares the one database, so a retry would only repeat the pool's 3 s wait until the
# caller's deadline passed (a 504 after 10 s instead of a 503 at once).
NO_RETRY = ("grpc-retry-pushback-ms", "-1")


class ApiErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns an ApiError raised by any unary handler into its rich gRPC status, and a lost
    database connection into UNAVAILABLE, so servicers just raise."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def call(request, context):
            try:
                with logs.bound(**logs.ids_of(request)):  # the project and render it concerns
                    return await inner(request, context)
            except errors.ApiError as exc:
                tracing.rpc_failed(exc.grpc_code)
                await context.abort_with_status(errors.to_status(exc))
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                log.warning("%s: database unavailable: %s", details.method, exc)
                tracing.rpc_failed(grpc.StatusCode.UNAVAILABLE)
                status = errors.to_status(
                    errors.Unavailable("the database is unavailable; retry with backoff"))
                await context.abort(status.code, status.details,
                                    (*status.trailing_metadata, NO_RETRY))

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
