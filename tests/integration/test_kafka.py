"""Topics as the settings describe them, created on the real broker: the broker's replication
factor (-1) and the topic configs the operator gave."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from craftkit import kafka
from craftkit.config import Kafka


async def created(bootstrap: str, topic: str, configs: dict[str, str]) -> tuple[int, dict]:
    """Creates `topic` the way the services do; returns its partitions and stored configs."""
    settings = Kafka(bootstrap, topic, topic, 3, 1.0, replication_factor=-1,
                     topic_configs=configs)
    await kafka.ensure_topics(settings, topic)
    await kafka.ensure_topics(settings, topic)  # again: an existing topic is left alone
    admin = AIOKafkaAdminClient(**kafka.connection(settings), request_timeout_ms=5000)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    return len(description["partitions"]), {entry[0]: entry[1] for entry in entries}


def test_topics_get_the_brokers_replication_factor_and_the_configured_topic_configs(stack):
    topic = f"test.topics.{uuid.uuid4().hex[:8]}"
    partitions, configs = asyncio.run(created(
        stack.infra.kafka_bootstrap, topic,
        {"min.insync.replicas": "1", "retention.ms": "604800000"}))
    assert partitions == 3
    assert configs["min.insync.replicas"] == "1"
    assert configs["retention.ms"] == "604800000"
