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


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


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
    replication_factor: int = -1
    """KAFKA_REPLICATION_FACTOR: replicas of each partition of the topics this project creates;
    -1 (the default) lets the broker choose (its default.replication.factor). A hard-coded 1 left
    a cluster with min.insync.replicas=2 refusing every acks=all produce."""
    topic_configs: dict[str, str] = field(default_factory=dict)
    """KAFKA_TOPIC_CONFIGS: topic configs applied when this project creates a topic, as
    comma-separated key=value (e.g. "min.insync.replicas=2,retention.ms=604800000"). Topics that
    exist already are left as they are."""
    security_protocol: str = "PLAINTEXT"
    """KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, for every producer,
    consumer and admin client."""
    sasl_mechanism: str = "SCRAM-SHA-512"
    """KAFKA_SASL_MECHANISM: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (with a SASL_* protocol)."""
    sasl_username: str = ""
    """KAFKA_SASL_USERNAME: the SASL user (required with a SASL_* protocol)."""
    sasl_password: str = secret(default="")
    """KAFKA_SASL_PASSWORD: that user's password (required with a SASL_* protocol)."""
    ssl_ca_file: str = ""
    """KAFKA_SSL_CA_FILE: PEM file of the CA that signed the brokers' certificates (SSL and
    SASL_SSL; empty: the system's CAs)."""
    ssl_cert_file: str = ""
    """KAFKA_SSL_CERT_FILE: PEM client certificate for mutual TLS (with KAFKA_SSL_KEY_FILE)."""
    ssl_key_file: str = ""
    """KAFKA_SSL_KEY_FILE: PEM private key of that client certificate."""

    @classmethod
    def from_env(cls) -> Kafka:
        settings = cls(
            bootstrap_servers=env_str("KAFKA_BOOTSTRAP_SERVERS"),
            jobs_topic=env_str("KAFKA_JOBS_TOPIC", "render.jobs"),
            events_topic=env_str("KAFKA_EVENTS_TOPIC", "render.events"),
            partitions=env_int("KAFKA_PARTITIONS", 4),
            relay_after_seconds=env_float("OUTBOX_RELAY_AFTER_SECONDS", 5.0),
            replication_factor=env_int("KAFKA_REPLICATION_FACTOR", -1),
            topic_configs=key_values("KAFKA_TOPIC_CONFIGS"),
            security_protocol=(os.environ.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=(os.environ.get("KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512").upper(),
            sasl_username=os.environ.get("KAFKA_SASL_USERNAME", ""),
            sasl_password=os.environ.get("KAFKA_SASL_PASSWORD", ""),
            ssl_ca_file=os.environ.get("KAFKA_SSL_CA_FILE", ""),
            ssl_cert_file=os.environ.get("KAFKA_SSL_CERT_FILE", ""),
            ssl_key_file=os.environ.get("KAFKA_SSL_KEY_FILE", ""),
        )
        settings.validate()
        return settings

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls_files(self) -> dict[str, str]:
        """The TLS files by setting name (read when a client is built: craftkit.kafka)."""
        return {"KAFKA_SSL_CA_FILE": self.ssl_ca_file, "KAFKA_SSL_CERT_FILE": self.ssl_cert_file,
                "KAFKA_SSL_KEY_FILE": self.ssl_key_file}

    def validate(self) -> None:
        """Refuses at start what would only fail at the first connection, or silently not do
        what the operator meant (a CA file given for a plaintext connection). The files are not
        looked at here (settings can be checked where they are not mounted) but when the
        clients are built, at start too."""
        if self.replication_factor == 0 or self.replication_factor < -1:
            raise ConfigError("KAFKA_REPLICATION_FACTOR must be -1 (the broker's default) or "
                              f"at least 1, got {self.replication_factor}")
        if self.partitions < 1:
            raise ConfigError(f"KAFKA_PARTITIONS must be at least 1, got {self.partitions}")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(f"KAFKA_SECURITY_PROTOCOL must be one of "
                              f"{', '.join(SECURITY_PROTOCOLS)}, got {self.security_protocol!r}")
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(f"KAFKA_SASL_MECHANISM must be one of "
                                  f"{', '.join(SASL_MECHANISMS)}, got {self.sasl_mechanism!r}")
            for name, value in (("KAFKA_SASL_USERNAME", self.sasl_username),
                                ("KAFKA_SASL_PASSWORD", self.sasl_password)):
                if not value:
                    raise ConfigError(f"environment variable {name} is required with "
                                      f"KAFKA_SECURITY_PROTOCOL={self.security_protocol}")
        for name, path in self.tls_files.items():
            if path and not self.uses_tls:
                raise ConfigError(f"{name} is set but KAFKA_SECURITY_PROTOCOL="
                                  f"{self.security_protocol} does not use TLS (use SSL or SASL_SSL)")
        if bool(self.ssl_cert_file) != bool(self.ssl_key_file):
            raise ConfigError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together: set both "
                              "for mutual TLS, or neither")


def key_values(name: str) -> dict[str, str]:
    """Parses "a=1,b=2" from the environment variable `name` (empty: no pairs)."""
    pairs = {}
    for item in filter(None, (part.strip() for part in os.environ.get(name, "").split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise ConfigError(f"environment variable {name} must be comma-separated key=value "
                              f"pairs, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def describe(settings) -> str:
    """One line per field, for start-up logs (secrets masked)."""
    return ", ".join(f"{f.name}={'***' if not f.repr else getattr(settings, f.name)!r}"
                     for f in fields(settings))


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


DOWNLOAD_URL_MODES = ("public", "presigned", "none")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs live at most 7 days."""


@dataclass(frozen=True)
class Downloads:
    """What a render's downloadUrl is (GET /v1/renders/{id}, webhooks): craftkit.downloads."""

    mode: str
    """DOWNLOAD_URL_MODE: `public` (S3_PUBLIC_BASE_URL + "/" + the object key: a permanent URL
    on a public bucket), `presigned` (a fresh presigned S3 GET at each read and each webhook
    delivery, valid DOWNLOAD_URL_TTL_SECONDS; the bucket stays private) or `none` (downloadUrl is
    null: use GET /v1/renders/{id}/download or a share link). Default: public when
    S3_PUBLIC_BASE_URL is set, else none."""
    ttl_seconds: int
    """DOWNLOAD_URL_TTL_SECONDS: how long a presigned downloadUrl works. Default 86400 (1 day),
    at most 604800 (7 days, SigV4's limit)."""
    endpoint: str
    """DOWNLOAD_URL_ENDPOINT: the S3 endpoint as the holders of a presigned downloadUrl reach it
    (the host is part of the signature, so it must be the public name when S3_ENDPOINT is an
    in-cluster address). Default S3_ENDPOINT."""

    @classmethod
    def from_env(cls) -> Downloads:
        public_base = os.environ.get("S3_PUBLIC_BASE_URL", "")
        settings = cls(
            mode=(os.environ.get("DOWNLOAD_URL_MODE") or ("public" if public_base else "none")
                  ).lower(),
            ttl_seconds=env_int("DOWNLOAD_URL_TTL_SECONDS", 86400),
            endpoint=(os.environ.get("DOWNLOAD_URL_ENDPOINT") or os.environ.get("S3_ENDPOINT", "")
                      ).rstrip("/"))
        settings.validate(public_base)
        return settings

    def validate(self, public_base_url: str) -> None:
        if self.mode not in DOWNLOAD_URL_MODES:
            raise ConfigError(f"DOWNLOAD_URL_MODE must be one of {', '.join(DOWNLOAD_URL_MODES)}, "
                              f"got {self.mode!r}")
        if self.mode == "public" and not public_base_url:
            raise ConfigError("DOWNLOAD_URL_MODE=public needs S3_PUBLIC_BASE_URL (the bucket's "
                              "public base); use presigned or none for a private bucket")
        if not 1 <= self.ttl_seconds <= MAX_PRESIGN_SECONDS:
            raise ConfigError(f"DOWNLOAD_URL_TTL_SECONDS must be 1 to {MAX_PRESIGN_SECONDS} "
                              "(7 days, the longest a presigned URL lives), got "
                              f"{self.ttl_seconds}")
        if self.mode == "presigned" and not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError("DOWNLOAD_URL_MODE=presigned needs DOWNLOAD_URL_ENDPOINT or "
                              "S3_ENDPOINT as an http:// or https:// URL, got "
                              f"{self.endpoint!r}")
