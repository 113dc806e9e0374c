from __future__ import annotations

from dataclasses import dataclass

from craftkit.config import Database, Kafka, env_int, env_str


@dataclass(frozen=True)
class Settings:
    listen: str
    """STATUS_LISTEN: host:port the gRPC server binds."""
    database: Database
    kafka: Kafka
    lease_seconds: int
    """RENDER_LEASE_SECONDS: how long a claimed job belongs to its worker before another may take
    it over (a worker that died mid-job). Must exceed the longest render."""
    max_asset_pixels: int
    """MAX_ASSET_PIXELS: an uploaded image with more pixels is refused (invalid_asset). A render
    decodes an image at about 10 bytes per pixel (40 MP: about 400 MiB), so keep the worker's
    memory per render above that, or lower this."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            listen=env_str("STATUS_LISTEN", "127.0.0.1:7051"),
            database=Database.from_env(),
            kafka=Kafka.from_env(),
            lease_seconds=env_int("RENDER_LEASE_SECONDS", 120),
            max_asset_pixels=env_int("MAX_ASSET_PIXELS", 40_000_000),
        )
