"""Kafka clients with the settings every service shares (aiokafka; nothing broker-specific)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from craftkit.config import Kafka

log = logging.getLogger(__name__)


def producer(settings: Kafka) -> AIOKafkaProducer:
    # acks="all": a job counts as handed over only once every in-sync replica has it.
    # No idempotent producer: consumers dedupe by render id instead (see the render worker).
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=0,
        request_timeout_ms=5000,
        retry_backoff_ms=100,
        client_id="craftkit",
    )


def consumer(settings: Kafka, topic: str, group: str, **overrides) -> AIOKafkaConsumer:
    options = dict(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A job waits at most this long inside the broker before a fetch returns it.
        fetch_max_wait_ms=5,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=300000,
        request_timeout_ms=40000,
        retry_backoff_ms=100,
    )
    options.update(overrides)
    return AIOKafkaConsumer(topic, **options)


async def prepare_topics(settings: Kafka) -> None:
    """Creates the project's topics that do not exist yet, retrying until a broker answers.
    Every service that produces or consumes calls it at start, so none depends on another's."""
    await retrying(lambda: ensure_topics(settings, settings.jobs_topic, settings.events_topic),
                   "creating topics")


async def ensure_topics(settings: Kafka, *topics: str) -> None:
    """Creates the topics that do not exist yet, with settings.partitions partitions each."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                request_timeout_ms=5000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, settings.partitions, 1) for t in topics if t not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()


async def reachable(client: AIOKafkaProducer | AIOKafkaConsumer, timeout: float = 3.0) -> bool:
    """True when some broker answers a metadata request within `timeout`."""
    inner = client.client if isinstance(client, AIOKafkaProducer) else client._client
    try:
        await asyncio.wait_for(inner.fetch_all_metadata(), timeout)
        return True
    except (KafkaError, asyncio.TimeoutError, OSError):
        return False


async def retrying(action, what: str) -> None:
    """Awaits `action()` until it succeeds, backing off while no broker answers."""
    backoff = 0.2
    while True:
        try:
            return await action()
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            log.warning("%s: %s; retrying in %.1fs", what, exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
