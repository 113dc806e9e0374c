"""What every Kafka client is given (TLS, SASL), how topics are described, a broker's refusal to
create one, and how failed sends show in health."""

from __future__ import annotations

import ssl

import pytest
import trustme
from aiokafka.errors import (KafkaTimeoutError, NotEnoughReplicasAfterAppendError,
                             NotEnoughReplicasError)
from aiokafka.protocol.admin import CreateTopicsResponse_v3

from craftkit import kafka
from craftkit.config import ConfigError, Kafka


def settings(**overrides) -> Kafka:
    values = dict(bootstrap_servers="kafka-0:9093", jobs_topic="render.jobs",
                  events_topic="render.events", partitions=12, relay_after_seconds=5.0)
    settings = Kafka(**{**values, **overrides})
    settings.validate()
    return settings


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a client certificate signed by it, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    client = ca.issue_cert("craftkit-gateway")
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    client.cert_chain_pems[0].write_to_path(str(directory / "client.crt"))
    client.private_key_pem.write_to_path(str(directory / "client.key"))
    return directory


def test_plaintext_clients_get_no_tls_and_no_login():
    options = kafka.connection(settings())
    assert options == {"bootstrap_servers": "kafka-0:9093", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_clients_verify_the_brokers_with_the_ca_and_log_in_with_scram(pki):
    options = kafka.connection(settings(
        security_protocol="SASL_SSL", sasl_username="craftkit", sasl_password="s3cret",
        ssl_ca_file=str(pki / "ca.crt")))
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": "kafka-0:9093", "security_protocol": "SASL_SSL",
                       "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "craftkit",
                       "sasl_plain_password": "s3cret"}
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    [ca] = context.get_ca_certs()
    assert ca["subject"][0][0][1].startswith("trustme")


def test_mutual_tls_loads_the_client_certificate_and_refuses_a_key_that_is_not_its(pki, tmp_path):
    options = kafka.connection(settings(
        security_protocol="SSL", ssl_ca_file=str(pki / "ca.crt"),
        ssl_cert_file=str(pki / "client.crt"), ssl_key_file=str(pki / "client.key")))
    assert "sasl_mechanism" not in options
    assert isinstance(options["ssl_context"], ssl.SSLContext)

    other = tmp_path / "other.key"
    trustme.CA().issue_cert("other").private_key_pem.write_to_path(str(other))
    with pytest.raises(ConfigError, match="KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, "
                                          "KAFKA_SSL_KEY_FILE: .*its own key"):
        kafka.connection(settings(security_protocol="SSL", ssl_cert_file=str(pki / "client.crt"),
                                  ssl_key_file=str(other)))


def test_a_missing_tls_file_stops_the_client_naming_the_setting(pki, tmp_path):
    with pytest.raises(ConfigError, match="KAFKA_SSL_KEY_FILE: no readable file at"):
        kafka.producer(settings(security_protocol="SSL", ssl_cert_file=str(pki / "client.crt"),
                                ssl_key_file=str(tmp_path / "nowhere.key")))


def test_topics_leave_the_replication_factor_to_the_broker_and_carry_the_configs():
    topic = kafka.new_topic(settings(topic_configs={"min.insync.replicas": "2"}), "render.jobs")
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("render.jobs", 12, -1)
    assert topic.topic_configs == {"min.insync.replicas": "2"}
    assert kafka.new_topic(settings(replication_factor=3), "render.jobs").replication_factor == 3


def test_a_refused_topic_names_the_topic_the_error_and_the_settings_to_check():
    response = CreateTopicsResponse_v3(throttle_time_ms=0, topic_errors=[
        ("render.jobs", 0, None),
        ("render.events", 38, "Replication factor: 3 larger than available brokers: 1.")])
    with pytest.raises(kafka.TopicRefused) as refused:
        kafka.refused(response)
    message = str(refused.value)
    assert "render.events: InvalidReplicationFactorError: Replication factor: 3 larger" in message
    assert "KAFKA_REPLICATION_FACTOR" in message
    kafka.refused(CreateTopicsResponse_v3(throttle_time_ms=0,
                                          topic_errors=[("render.jobs", 36, "exists")]))


@pytest.mark.parametrize("error", [NotEnoughReplicasError, NotEnoughReplicasAfterAppendError])
def test_too_few_in_sync_replicas_fail_the_check_with_the_reason_until_a_send_succeeds(error):
    sends = kafka.Sends()
    sends.check()  # nothing sent yet: nothing to report
    sends.failed("render.events", error())
    with pytest.raises(kafka.NotSending,
                       match=f"^render.events: .*{error.__name__}.*min.insync.replicas"):
        sends.check()
    sends.succeeded("render.events")
    sends.check()


def test_a_topic_that_fails_stays_reported_while_another_one_succeeds():
    sends = kafka.Sends()
    sends.failed("render.events", NotEnoughReplicasError())
    sends.succeeded("render.jobs")
    with pytest.raises(kafka.NotSending, match="^render.events: "):
        sends.check()
    sends.failed("render.jobs", KafkaTimeoutError())
    with pytest.raises(kafka.NotSending) as both:
        sends.check()
    assert "; render.jobs: KafkaTimeoutError" in str(both.value)
