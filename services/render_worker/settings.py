from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from craftkit.config import ConfigError, Kafka, Storage, env_int, env_str
from craftkit.internal_auth import ClientSecurity
from craftkit.layout import Limits


@dataclass(frozen=True)
class Settings:
    kafka: Kafka
    storage: Storage
    status_address: str
    """STATUS_ADDRESS: host:port of the status service, or dns:///host:port to balance over
    every address of the name (a headless Service)."""
    security: ClientSecurity
    """INTERNAL_TOKEN_FILE, GRPC_TLS_CA_FILE: how this caller presents itself to the gRPC
    services (craftkit.internal_auth)."""
    health_listen: str
    """WORKER_HEALTH_LISTEN: host:port of this worker's gRPC health endpoint."""
    group: str
    """WORKER_GROUP: the Kafka consumer group the workers share."""
    concurrency: int
    """WORKER_CONCURRENCY: render processes (renders at once). Each holds an idle renderer (about
    50 MB) plus up to RENDER_MEMORY_LIMIT_MB while rendering. Default 4."""
    project_concurrency: int
    """WORKER_PROJECT_CONCURRENCY: render processes one project may hold at once, so one tenant's
    slow renders leave the others room. Default half of WORKER_CONCURRENCY (at least 1)."""
    jobs_in_hand: int
    """WORKER_JOBS_IN_HAND: jobs taken from Kafka and worked on at once (claiming, fetching assets,
    waiting for a render process, rendering, storing, recording). More than the processes, so the
    I/O of some overlaps with the rendering of others. Default 128."""
    project_backlog: int
    """WORKER_PROJECT_BACKLOG: jobs of one project in hand that are not rendering yet. A job over
    it is left queued for the enqueue sweeper to hand out again (after REDELIVER_AFTER_SECONDS),
    so one project's flood never fills the jobs in hand. Default 64."""
    recycle_after: int
    """WORKER_RECYCLE_AFTER: renders after which a render process is replaced (bounds what renders
    leave behind; starting a process costs about a second of CPU). Default 5000."""
    memory_limit_mb: int
    """RENDER_MEMORY_LIMIT_MB: memory one render may take beyond an idle render process
    (RLIMIT_AS); a render over it fails naming the limit. 0: no limit. Default 512."""
    worker_id: str
    """WORKER_ID: a name for logs and claims (default host-pid)."""
    shutdown_grace_seconds: int
    """WORKER_SHUTDOWN_GRACE_SECONDS: on SIGTERM, how long the jobs in hand may take to finish."""
    limits: Limits
    """RENDER_MAX_PAGES, RENDER_MAX_ROWS, RENDER_TIME_LIMIT_SECONDS: a render over any of them
    fails with a message naming the limit. The time limit is wall-clock: a render process still
    busy when it passes is killed."""

    def __post_init__(self) -> None:
        for name, value, least in (
                ("WORKER_CONCURRENCY", self.concurrency, 1),
                ("WORKER_PROJECT_CONCURRENCY", self.project_concurrency, 1),
                ("WORKER_JOBS_IN_HAND", self.jobs_in_hand, 1),
                ("WORKER_PROJECT_BACKLOG", self.project_backlog, 1),
                ("WORKER_RECYCLE_AFTER", self.recycle_after, 1),
                ("RENDER_MEMORY_LIMIT_MB", self.memory_limit_mb, 0)):
            if value < least:
                raise ConfigError(f"environment variable {name} must be at least {least}, "
                                  f"got {value}")

    @classmethod
    def from_env(cls) -> Settings:
        concurrency = env_int("WORKER_CONCURRENCY", 4)
        return cls(
            kafka=Kafka.from_env(),
            storage=Storage.from_env(),
            status_address=env_str("STATUS_ADDRESS", "127.0.0.1:7051"),
            security=ClientSecurity.from_env(),
            health_listen=env_str("WORKER_HEALTH_LISTEN", "127.0.0.1:7053"),
            group=env_str("WORKER_GROUP", "render-workers"),
            concurrency=concurrency,
            project_concurrency=env_int("WORKER_PROJECT_CONCURRENCY", max(1, concurrency // 2)),
            jobs_in_hand=env_int("WORKER_JOBS_IN_HAND", 128),
            project_backlog=env_int("WORKER_PROJECT_BACKLOG", 64),
            recycle_after=env_int("WORKER_RECYCLE_AFTER", 5000),
            memory_limit_mb=env_int("RENDER_MEMORY_LIMIT_MB", 512),
            worker_id=env_str("WORKER_ID", f"{socket.gethostname()}-{os.getpid()}"),
            shutdown_grace_seconds=env_int("WORKER_SHUTDOWN_GRACE_SECONDS", 25),
            limits=Limits.from_env(),
        )
