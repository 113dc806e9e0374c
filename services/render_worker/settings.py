from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from craftkit.config import Kafka, env_float, env_int, env_str
from craftkit.layout import Limits


@dataclass(frozen=True)
class Storage:
    endpoint: str
    """S3_ENDPOINT: URL of the S3 API, e.g. https://s3.eu-west-1.amazonaws.com or http://minio:9000."""
    access_key: str = field(repr=False)
    """S3_ACCESS_KEY."""
    secret_key: str = field(repr=False)
    """S3_SECRET_KEY."""
    bucket: str
    """S3_BUCKET: where PDFs go, as renders/<id>/<filename>. Created if missing."""
    region: str
    """S3_REGION."""
    public_base_url: str
    """S3_PUBLIC_BASE_URL: public base of the bucket (a CDN or the bucket's public URL). When set,
    downloadUrl is this + "/" + the object key; when empty, downloadUrl is null."""

    @classmethod
    def from_env(cls) -> Storage:
        return cls(
            endpoint=env_str("S3_ENDPOINT"),
            access_key=env_str("S3_ACCESS_KEY", "craftkit"),
            secret_key=env_str("S3_SECRET_KEY", "craftkit-secret"),
            bucket=env_str("S3_BUCKET", "craftkit-renders"),
            region=env_str("S3_REGION", "us-east-1"),
            public_base_url=os.environ.get("S3_PUBLIC_BASE_URL", "").rstrip("/"),
        )


@dataclass(frozen=True)
class Settings:
    kafka: Kafka
    storage: Storage
    status_address: str
    """STATUS_ADDRESS: host:port of the status service."""
    health_listen: str
    """WORKER_HEALTH_LISTEN: host:port of this worker's gRPC health endpoint."""
    group: str
    """WORKER_GROUP: the Kafka consumer group the workers share."""
    concurrency: int
    """WORKER_CONCURRENCY: jobs taken from Kafka and worked on at once by one worker."""
    worker_id: str
    """WORKER_ID: a name for logs and claims (default host-pid)."""
    shutdown_grace_seconds: int
    """WORKER_SHUTDOWN_GRACE_SECONDS: on SIGTERM, how long the jobs in hand may take to finish."""
    limits: Limits
    """RENDER_MAX_PAGES, RENDER_MAX_ROWS, RENDER_TIME_LIMIT_SECONDS: a render over any of them
    fails with a message naming the limit."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            kafka=Kafka.from_env(),
            storage=Storage.from_env(),
            status_address=env_str("STATUS_ADDRESS", "127.0.0.1:7051"),
            health_listen=env_str("WORKER_HEALTH_LISTEN", "127.0.0.1:7053"),
            group=env_str("WORKER_GROUP", "render-workers"),
            concurrency=env_int("WORKER_CONCURRENCY", 32),
            worker_id=env_str("WORKER_ID", f"{socket.gethostname()}-{os.getpid()}"),
            shutdown_grace_seconds=env_int("WORKER_SHUTDOWN_GRACE_SECONDS", 25),
            limits=Limits(max_pages=env_int("RENDER_MAX_PAGES", Limits.max_pages),
                          max_rows=env_int("RENDER_MAX_ROWS", Limits.max_rows),
                          seconds=env_float("RENDER_TIME_LIMIT_SECONDS", Limits.seconds)),
        )
