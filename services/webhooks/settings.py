from __future__ import annotations

from dataclasses import dataclass

from craftkit.config import Database, Downloads, Kafka, Storage, env_float, env_int, env_str
from craftkit.internal_auth import ServerSecurity


@dataclass(frozen=True)
class Settings:
    database: Database
    kafka: Kafka
    listen: str
    """WEBHOOKS_LISTEN: host:port of this service's gRPC server (WebhookService and health)."""
    security: ServerSecurity
    """INTERNAL_TOKENS_DIR, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE, GRPC_HEALTH_LISTEN: who may
    call (craftkit.internal_auth), and TLS."""
    group: str
    """WEBHOOKS_GROUP: the consumer group on render.events."""
    allow_private_targets: bool
    """WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 lets endpoints point at private, loopback and link-local
    addresses (the dev stack and the tests; never on a shared deployment)."""
    timeout_seconds: float
    """WEBHOOK_TIMEOUT_SECONDS: how long a receiver may take to answer. Default 10."""
    retry_base_seconds: float
    """WEBHOOK_RETRY_BASE_SECONDS: the first retry's delay; each next one doubles (±20 % jitter)
    up to WEBHOOK_RETRY_CAP_SECONDS. Defaults 10 and 3600."""
    retry_cap_seconds: float
    give_up_seconds: float
    """WEBHOOK_GIVE_UP_SECONDS: a delivery still failing this long after the event is given up.
    Default 26 h, so the last attempt comes at least 24 h after the event."""
    per_endpoint: int
    """WEBHOOK_CONCURRENCY_PER_ENDPOINT: deliveries in flight to one endpoint. Default 4."""
    concurrency: int
    """WEBHOOK_CONCURRENCY: deliveries in flight in all. Default 64."""
    breaker_after_seconds: float
    """WEBHOOK_BREAKER_AFTER_SECONDS: an endpoint failing without a success this long is paused
    for WEBHOOK_BREAKER_PAUSE_SECONDS, then tried again. Defaults 6 h and 1 h."""
    breaker_pause_seconds: float
    stall_after_seconds: float
    downloads: Downloads
    """DOWNLOAD_URL_MODE, DOWNLOAD_URL_TTL_SECONDS, DOWNLOAD_URL_ENDPOINT: the downloadUrl a
    webhook carries; in presigned mode a fresh one is signed for each attempt."""
    storage: Storage | None
    """S3_*: the bucket and credentials presigned downloadUrls are signed with (read in presigned
    mode only; webhooks never calls S3)."""
    """WEBHOOKS_STALL_AFTER_SECONDS: health turns NOT_SERVING when completion events wait in
    Kafka and the consumer has taken none for this long (a wedged consumer shows as not ready
    instead of looking healthy). Default 60."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database=Database.from_env(), kafka=Kafka.from_env(),
            listen=env_str("WEBHOOKS_LISTEN", "127.0.0.1:7054"),
            security=ServerSecurity.from_env(),
            group=env_str("WEBHOOKS_GROUP", "webhooks"),
            allow_private_targets=env_str("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0") == "1",
            timeout_seconds=env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0),
            retry_base_seconds=env_float("WEBHOOK_RETRY_BASE_SECONDS", 10.0),
            retry_cap_seconds=env_float("WEBHOOK_RETRY_CAP_SECONDS", 3600.0),
            give_up_seconds=env_float("WEBHOOK_GIVE_UP_SECONDS", 26 * 3600.0),
            per_endpoint=env_int("WEBHOOK_CONCURRENCY_PER_ENDPOINT", 4),
            concurrency=env_int("WEBHOOK_CONCURRENCY", 64),
            breaker_after_seconds=env_float("WEBHOOK_BREAKER_AFTER_SECONDS", 6 * 3600.0),
            breaker_pause_seconds=env_float("WEBHOOK_BREAKER_PAUSE_SECONDS", 3600.0),
            stall_after_seconds=env_float("WEBHOOKS_STALL_AFTER_SECONDS", 60.0),
            downloads=(downloads := Downloads.from_env()),
            storage=Storage.from_env() if downloads.mode == "presigned" else None,
        )
