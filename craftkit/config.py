"""Reading settings from the environment: casts, defaults, and a clear error naming the variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields


class ConfigError(RuntimeError):
    pass


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is required")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None


def secret(**kwargs):
    """A dataclass field whose value is masked in repr."""
    return field(repr=False, **kwargs)


@dataclass(frozen=True)
class Database:
    url: str
    """DATABASE_URL: a libpq connection string for PostgreSQL."""
    pool_size: int
    """DATABASE_POOL_SIZE: connections each process keeps open."""

    @classmethod
    def from_env(cls) -> Database:
        return cls(url=env_str("DATABASE_URL"), pool_size=env_int("DATABASE_POOL_SIZE", 8))

    def __repr__(self) -> str:
        return f"Database(url='***', pool_size={self.pool_size})"


@dataclass(frozen=True)
class Kafka:
    bootstrap_servers: str
    """KAFKA_BOOTSTRAP_SERVERS: host:port[,host:port] of the brokers."""
    jobs_topic: str
    """KAFKA_JOBS_TOPIC: where render jobs go (keyed by render id)."""
    events_topic: str
    """KAFKA_EVENTS_TOPIC: where completion events go (keyed by render id)."""
    partitions: int
    """KAFKA_PARTITIONS: partitions for topics this project creates."""
    relay_after_seconds: float
    """OUTBOX_RELAY_AFTER_SECONDS: an outbox row its writer has not sent and deleted by then
    (crashed, or the broker was down) is sent by the relay."""

    @classmethod
    def from_env(cls) -> Kafka:
        return cls(
            bootstrap_servers=env_str("KAFKA_BOOTSTRAP_SERVERS"),
            jobs_topic=env_str("KAFKA_JOBS_TOPIC", "render.jobs"),
            events_topic=env_str("KAFKA_EVENTS_TOPIC", "render.events"),
            partitions=env_int("KAFKA_PARTITIONS", 4),
            relay_after_seconds=env_float("OUTBOX_RELAY_AFTER_SECONDS", 5.0),
        )


def describe(settings) -> str:
    """One line per field, for start-up logs (secrets masked)."""
    return ", ".join(f"{f.name}={'***' if not f.repr else getattr(settings, f.name)!r}"
                     for f in fields(settings))
