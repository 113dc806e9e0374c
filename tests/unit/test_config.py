"""Kafka settings from the environment: defaults, topic configs, and the combinations refused at
start with a message naming the variable to fix."""

from __future__ import annotations

import pytest

from craftkit.config import ConfigError, Kafka

KAFKA_VARIABLES = ["KAFKA_REPLICATION_FACTOR", "KAFKA_TOPIC_CONFIGS", "KAFKA_SECURITY_PROTOCOL",
                   "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
                   "KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE",
                   "KAFKA_PARTITIONS"]


@pytest.fixture
def env(monkeypatch):
    for name in KAFKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9093,kafka-1:9093")

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return set_env


@pytest.fixture
def pem(tmp_path):
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


def test_defaults_leave_replication_to_the_broker_and_connect_in_plaintext(env):
    settings = Kafka.from_env()
    assert settings.replication_factor == -1
    assert settings.topic_configs == {}
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert not settings.uses_tls and not settings.uses_sasl


def test_topic_configs_are_comma_separated_key_values(env):
    env(KAFKA_TOPIC_CONFIGS=" min.insync.replicas=2, retention.ms=604800000 ,",
        KAFKA_REPLICATION_FACTOR="3")
    settings = Kafka.from_env()
    assert settings.topic_configs == {"min.insync.replicas": "2", "retention.ms": "604800000"}
    assert settings.replication_factor == 3


@pytest.mark.parametrize("value", ["min.insync.replicas", "=2", "retention.ms=", "a=1,b"])
def test_a_malformed_topic_config_names_the_variable(env, value):
    env(KAFKA_TOPIC_CONFIGS=value)
    with pytest.raises(ConfigError, match="KAFKA_TOPIC_CONFIGS must be comma-separated key=value"):
        Kafka.from_env()


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_replication_factor_below_one_other_than_minus_one_is_refused(env, value):
    env(KAFKA_REPLICATION_FACTOR=value)
    with pytest.raises(ConfigError, match="KAFKA_REPLICATION_FACTOR must be -1"):
        Kafka.from_env()


@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
def test_sasl_without_its_credentials_names_the_missing_one(env, missing):
    env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="craftkit",
        KAFKA_SASL_PASSWORD="s3cret")
    env(**{missing: ""})
    with pytest.raises(ConfigError, match=f"{missing} is required with "
                                          "KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        Kafka.from_env()


def test_an_unknown_protocol_or_mechanism_lists_the_accepted_ones(env):
    env(KAFKA_SECURITY_PROTOCOL="TLS")
    with pytest.raises(ConfigError, match="KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL"):
        Kafka.from_env()
    env(KAFKA_SECURITY_PROTOCOL="sasl_plaintext", KAFKA_SASL_MECHANISM="GSSAPI",
        KAFKA_SASL_USERNAME="u", KAFKA_SASL_PASSWORD="p")
    with pytest.raises(ConfigError, match="KAFKA_SASL_MECHANISM must be one of SCRAM-SHA-512"):
        Kafka.from_env()


def test_tls_files_with_a_plaintext_protocol_are_refused(env, pem):
    env(KAFKA_SSL_CA_FILE=pem)
    with pytest.raises(ConfigError, match="KAFKA_SSL_CA_FILE is set but "
                                          "KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS"):
        Kafka.from_env()


def test_tls_files_are_not_read_with_the_settings(env, tmp_path):
    """Settings can be checked where the files are not mounted (the k8s tests); the Kafka
    clients read them at start (tests/unit/test_kafka.py)."""
    env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CA_FILE=str(tmp_path / "mounted-later.crt"))
    assert Kafka.from_env().ssl_ca_file.endswith("mounted-later.crt")


def test_a_client_certificate_needs_its_key(env, pem):
    env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CERT_FILE=pem)
    with pytest.raises(ConfigError, match="KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together"):
        Kafka.from_env()


def test_the_sasl_password_is_masked_in_repr(env):
    env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="craftkit",
        KAFKA_SASL_PASSWORD="hunter2-secret")
    settings = Kafka.from_env()
    assert settings.uses_sasl and not settings.uses_tls
    assert "hunter2-secret" not in repr(settings)
