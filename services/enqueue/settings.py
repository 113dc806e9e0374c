from __future__ import annotations

from dataclasses import dataclass

from craftkit.config import Database, Kafka, env_float, env_int, env_str
from craftkit.internal_auth import ServerSecurity


@dataclass(frozen=True)
class Settings:
    listen: str
    """ENQUEUE_LISTEN: host:port the gRPC server binds."""
    security: ServerSecurity
    """INTERNAL_TOKENS_DIR, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE, GRPC_HEALTH_LISTEN: who may
    call (craftkit.internal_auth), and TLS."""
    database: Database
    kafka: Kafka
    dedupe_window_seconds: int
    """DEDUPE_WINDOW_SECONDS: identical requests (same project, template version, data and
    filename) inside this window return the first render instead of a new one. Default 24 h."""
    redeliver_after_seconds: int
    """REDELIVER_AFTER_SECONDS: an unfinished render whose job was handed to Kafka this long ago
    (and whose lease, if claimed, ran out) is handed over again. Covers a broker that lost
    messages. Default 30 s."""
    lease_seconds: int
    """RENDER_LEASE_SECONDS: as for the status service."""
    sweep_interval_seconds: float
    """SWEEP_INTERVAL_SECONDS: how often to look for such renders (and events). Default 5 s."""
    event_redeliver_after_seconds: float
    """EVENT_REDELIVER_AFTER_SECONDS: a render completed this long ago whose completion event
    the webhooks service has not recorded has its event published again (a broker that lost its
    log). At most once per this many seconds per render, the wait doubling up to 32 times it.
    Default 60."""
    event_sweep_window_seconds: float
    """EVENT_SWEEP_WINDOW_SECONDS: the event sweep looks only at renders completed this recently
    (it scans them every interval). Default 1 h."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            listen=env_str("ENQUEUE_LISTEN", "127.0.0.1:7052"),
            security=ServerSecurity.from_env(),
            database=Database.from_env(),
            kafka=Kafka.from_env(),
            dedupe_window_seconds=env_int("DEDUPE_WINDOW_SECONDS", 86400),
            redeliver_after_seconds=env_int("REDELIVER_AFTER_SECONDS", 30),
            lease_seconds=env_int("RENDER_LEASE_SECONDS", 30),
            sweep_interval_seconds=float(env_int("SWEEP_INTERVAL_SECONDS", 5)),
            event_redeliver_after_seconds=env_float("EVENT_REDELIVER_AFTER_SECONDS", 60.0),
            event_sweep_window_seconds=env_float("EVENT_SWEEP_WINDOW_SECONDS", 3600.0),
        )
