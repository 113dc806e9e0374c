from __future__ import annotations

from dataclasses import dataclass

from craftkit.config import (ConfigError, Database, Downloads, Kafka, Storage, env_float, env_int,
                             env_str)
from craftkit.internal_auth import ServerSecurity


@dataclass(frozen=True)
class Settings:
    listen: str
    """STATUS_LISTEN: host:port the gRPC server binds."""
    security: ServerSecurity
    """INTERNAL_TOKENS_DIR, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE, GRPC_HEALTH_LISTEN: who may
    call (craftkit.internal_auth), and TLS."""
    database: Database
    kafka: Kafka
    lease_seconds: int
    """RENDER_LEASE_SECONDS: how long a claimed job belongs to its worker without a heartbeat
    before another may take it over (a worker that died or lost contact mid-job). Workers renew
    the lease every third of it while they hold the job, so it bounds how long a dead worker
    delays a render, not how long a render may take (RENDER_TIME_LIMIT_SECONDS does). Default 30 s."""
    max_attempts: int
    """RENDER_MAX_ATTEMPTS: attempts at one render before it is recorded failed ("gave up after N
    attempts: <last reason>"). An attempt counts when its render process died, storing its PDF
    failed, or its worker stopped renewing the lease. Default 3."""
    max_asset_pixels: int
    """MAX_ASSET_PIXELS: an uploaded image with more pixels is refused (invalid_asset). A render
    decodes an image at about 10 bytes per pixel (40 MP: about 400 MiB), so keep the worker's
    memory per render above that, or lower this."""
    storage: Storage
    """S3_*: the bucket the workers store PDFs in. Status signs URLs of its objects (the
    gateway's download streams, share links, presigned downloadUrls) and, with
    RENDER_RETENTION_DAYS, deletes the expired ones; a finished render's URL must be
    S3_PUBLIC_BASE_URL + "/" + its object key (FinishRender refuses any other)."""
    downloads: Downloads
    """DOWNLOAD_URL_MODE, DOWNLOAD_URL_TTL_SECONDS, DOWNLOAD_URL_ENDPOINT: what downloadUrl is."""
    idempotency_retention_seconds: int
    """IDEMPOTENCY_RETENTION_SECONDS: how long a POST's response is kept for replay to the same
    Idempotency-Key (counted from the first request); after it the key is free again. Default
    86400 (24 h, as Stripe)."""
    retention_days: float = 0.0
    """RENDER_RETENTION_DAYS: renders that completed longer ago than this lose their PDF (deleted
    from S3) and their request data; the row stays readable, with expiredAt set and downloadUrl
    null. Fractions are allowed (0.5 is 12 hours). 0, the default, keeps everything forever."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            listen=env_str("STATUS_LISTEN", "127.0.0.1:7051"),
            security=ServerSecurity.from_env(),
            database=Database.from_env(),
            kafka=Kafka.from_env(),
            lease_seconds=env_int("RENDER_LEASE_SECONDS", 30),
            max_attempts=env_int("RENDER_MAX_ATTEMPTS", 3),
            max_asset_pixels=env_int("MAX_ASSET_PIXELS", 40_000_000),
            storage=Storage.from_env(),
            downloads=Downloads.from_env(),
            idempotency_retention_seconds=env_int("IDEMPOTENCY_RETENTION_SECONDS", 86400),
            retention_days=retention_days(),
        )


def retention_days() -> float:
    days = env_float("RENDER_RETENTION_DAYS", 0.0)
    if not 0 <= days <= 365_000:  # also refuses nan and inf
        raise ConfigError(f"RENDER_RETENTION_DAYS must be from 0 (off) to 365000 days, got {days}")
    return days
