from __future__ import annotations

from dataclasses import dataclass

from craftkit.config import ConfigError, env_float, env_int, env_str
from craftkit.internal_auth import ClientSecurity
from craftkit.layout import Limits


@dataclass(frozen=True)
class Settings:
    host: str
    """GATEWAY_HOST: interface the HTTP server binds."""
    port: int
    """GATEWAY_PORT: port the HTTP server binds."""
    public_base_url: str
    """PUBLIC_BASE_URL: how clients reach this API; pollUrl is built from it."""
    status_address: str
    """STATUS_ADDRESS: host:port of the status service (renders, templates, projects), or
    dns:///host:port to balance over every address of the name (a headless Service)."""
    enqueue_address: str
    """ENQUEUE_ADDRESS: host:port (or dns:///host:port) of the enqueue service."""
    webhooks_address: str
    """WEBHOOKS_ADDRESS: host:port (or dns:///host:port) of the webhooks service."""
    security: ClientSecurity
    """INTERNAL_TOKEN_FILE, GRPC_TLS_CA_FILE: how this caller presents itself to the gRPC
    services (craftkit.internal_auth)."""
    max_body_bytes: int
    """MAX_BODY_BYTES: larger request bodies get 413. Default 1 MiB."""
    max_asset_bytes: int
    """MAX_ASSET_BYTES: larger image uploads get 413. Default 5 MiB."""
    sync_timeout_seconds: float
    """SYNC_TIMEOUT_SECONDS: how long options.sync holds a request. Default 30."""
    drain_seconds: float
    """GATEWAY_DRAIN_SECONDS: after SIGTERM, how long requests in progress may still finish before
    their connections are closed. Default SYNC_TIMEOUT_SECONDS + 5, so a sync request that began
    just before the signal is answered (the pod's grace period must cover it, plus preStop)."""
    rate_limit_per_second: float
    """RATE_LIMIT_PER_SECOND: sustained requests per project per gateway replica; 0 turns the
    limit off. Bursts up to RATE_LIMIT_BURST are allowed."""
    rate_limit_burst: int
    """RATE_LIMIT_BURST."""
    key_cache_seconds: float
    """KEY_CACHE_SECONDS: how long a verified API key is trusted without asking again: a key
    revoked on another gateway (or by the operator) stops working here within this time; the
    gateway process that answers DELETE /v1/keys/{id} forgets it at once. Each gateway process asks once per this time per
    key in use (one small indexed read, and a last-use write at most once a second per key).
    Default 5."""
    key_stale_seconds: float
    """KEY_STALE_SECONDS: while the status service cannot be reached, a key verified within this
    long is still accepted (stale-if-error), so a status restart is not a 503 for every request.
    0 turns it off. Default 60."""
    render_cache_size: int
    """RENDER_CACHE_SIZE: terminal renders whose GET body each gateway keeps in memory; 0 turns
    the cache off. Default 10000."""
    render_cache_seconds: float
    """RENDER_CACHE_SECONDS: how long a terminal render's GET body is served from that cache
    before it is read again: the only later change, retention expiring it, shows within this
    time. 0 turns the cache off. Default 60."""
    download_streams_per_project: int
    """DOWNLOAD_STREAMS_PER_PROJECT: downloads of one project in progress at once per gateway
    process, and as many again through its share links; more get 429. The S3 client's pool
    has 200 connections, so a project's stalled readers cannot starve the others'. 0: no cap.
    Default 20."""
    download_stall_seconds: float
    """DOWNLOAD_STALL_SECONDS: a download's client that takes no data this long (its socket
    full) is disconnected, freeing its S3 connection and its project's stream. 0: never.
    Default 30."""
    workers: int
    """GATEWAY_WORKERS: uvicorn worker processes."""
    header_timeout_seconds: float
    """HEADER_TIMEOUT_SECONDS: a request header not complete this long after its connection
    opened (or after its first byte, on a kept-alive connection) closes the connection.
    Checked every 0.5 s (protocol.CHECK_SECONDS). Default 5."""
    body_timeout_seconds: float
    """BODY_TIMEOUT_SECONDS: a request body not all arrived this long after its header (fewer
    bytes than its Content-Length) gets 408 request_timeout and the connection is closed.
    Default 8, so even a 5 MiB asset needs only ~5 Mbit/s."""
    auth_failure_rate_per_second: float
    """AUTH_FAILURE_RATE_PER_SECOND: failed authentications (unknown keys, unknown inbound hook
    URLs) allowed per client address per gateway replica, sustained; past AUTH_FAILURE_BURST
    the address gets 429 without a database lookup. 0 turns the limit off. Default 1."""
    auth_failure_burst: int
    """AUTH_FAILURE_BURST: failed authentications a client address may make at once. Default 20."""
    preview_processes: int
    """PREVIEW_PROCESSES: render processes for previews in each gateway process (uvicorn worker);
    each holds an idle renderer (about 50 MB) plus up to RENDER_MEMORY_LIMIT_MB while rendering.
    Started at the first preview. Default 1."""
    preview_rate_per_second: float
    """PREVIEW_RATE_PER_SECOND: previews per project per gateway process, sustained (apart from
    RATE_LIMIT_PER_SECOND); bursts up to PREVIEW_BURST. 0 turns the limit off. Default 1."""
    preview_burst: int
    """PREVIEW_BURST. Default 10."""
    preview_seconds_per_second: float
    """PREVIEW_SECONDS_PER_SECOND: the share of one preview process a project may keep busy,
    sustained (seconds of rendering per second), so one project's slow previews cannot hold
    every other project's at 429; a project past its PREVIEW_SECONDS_BURST gets 429 until it is
    back within budget. 0 turns the budget off. Default 0.25."""
    preview_seconds_burst: int
    """PREVIEW_SECONDS_BURST: seconds of preview rendering a project may use at once. Default 15
    (a one-page preview takes about 10 ms)."""
    render_limits: Limits
    """RENDER_MAX_PAGES, RENDER_MAX_ROWS, RENDER_TIME_LIMIT_SECONDS: the workers' limits, which
    previews keep too (a version that previews also renders)."""
    render_memory_limit_mb: int
    """RENDER_MEMORY_LIMIT_MB: memory one preview may take beyond an idle render process, as a
    worker's render (0: no limit). Default 512."""

    def __post_init__(self) -> None:
        if self.preview_processes < 1:
            raise ConfigError("environment variable PREVIEW_PROCESSES must be at least 1, got "
                              f"{self.preview_processes}")

    @classmethod
    def from_env(cls) -> Settings:
        port = env_int("GATEWAY_PORT", 8080)
        return cls(
            host=env_str("GATEWAY_HOST", "127.0.0.1"),
            port=port,
            public_base_url=env_str("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            status_address=env_str("STATUS_ADDRESS", "127.0.0.1:7051"),
            enqueue_address=env_str("ENQUEUE_ADDRESS", "127.0.0.1:7052"),
            webhooks_address=env_str("WEBHOOKS_ADDRESS", "127.0.0.1:7054"),
            security=ClientSecurity.from_env(),
            max_body_bytes=env_int("MAX_BODY_BYTES", 1024 * 1024),
            max_asset_bytes=env_int("MAX_ASSET_BYTES", 5 * 1024 * 1024),
            sync_timeout_seconds=(sync := env_float("SYNC_TIMEOUT_SECONDS", 30.0)),
            drain_seconds=env_float("GATEWAY_DRAIN_SECONDS", sync + 5),
            rate_limit_per_second=env_float("RATE_LIMIT_PER_SECOND", 200.0),
            rate_limit_burst=env_int("RATE_LIMIT_BURST", 400),
            key_cache_seconds=env_float("KEY_CACHE_SECONDS", 5.0),
            key_stale_seconds=env_float("KEY_STALE_SECONDS", 60.0),
            render_cache_size=env_int("RENDER_CACHE_SIZE", 10000),
            render_cache_seconds=env_float("RENDER_CACHE_SECONDS", 60.0),
            download_streams_per_project=env_int("DOWNLOAD_STREAMS_PER_PROJECT", 20),
            download_stall_seconds=env_float("DOWNLOAD_STALL_SECONDS", 30.0),
            workers=env_int("GATEWAY_WORKERS", 1),
            header_timeout_seconds=env_float("HEADER_TIMEOUT_SECONDS", 5.0),
            body_timeout_seconds=env_float("BODY_TIMEOUT_SECONDS", 8.0),
            auth_failure_rate_per_second=env_float("AUTH_FAILURE_RATE_PER_SECOND", 1.0),
            auth_failure_burst=env_int("AUTH_FAILURE_BURST", 20),
            preview_processes=env_int("PREVIEW_PROCESSES", 1),
            preview_rate_per_second=env_float("PREVIEW_RATE_PER_SECOND", 1.0),
            preview_burst=env_int("PREVIEW_BURST", 10),
            preview_seconds_per_second=env_float("PREVIEW_SECONDS_PER_SECOND", 0.25),
            preview_seconds_burst=env_int("PREVIEW_SECONDS_BURST", 15),
            render_limits=Limits.from_env(),
            render_memory_limit_mb=env_int("RENDER_MEMORY_LIMIT_MB", 512),
        )
