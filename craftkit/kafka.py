"""Kafka clients with the settings every service shares (aiokafka; nothing broker-specific)."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import IllegalStateError, KafkaError, TopicAlreadyExistsError
from aiokafka.structs import TopicPartition

from craftkit.config import Kafka
from craftkit.retry import RetryPolicy, errors_of

log = logging.getLogger(__name__)

# While no broker answers: start-up of producers and consumers, topic creation.
BROKER = RetryPolicy(initial=0.2, maximum=5.0,
                     retriable=errors_of(KafkaError, OSError, asyncio.TimeoutError))
# How often clients refresh what they know of topics and partitions. aiokafka's default, 5 minutes,
# left consumers of a broker that came back without its topics idle for those 5 minutes.
METADATA_MAX_AGE_MS = 5000


def producer(settings: Kafka) -> AIOKafkaProducer:
    # acks="all": a job counts as handed over only once every in-sync replica has it.
    # No idempotent producer: consumers dedupe by render id instead (see the render worker).
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=0,
        request_timeout_ms=5000,
        retry_backoff_ms=100,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
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
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    options.update(overrides)
    return AIOKafkaConsumer(topic, **options)


async def prepare_topics(settings: Kafka) -> None:
    """Creates the project's topics that do not exist yet, retrying until a broker answers.
    Every service that produces or consumes calls it at start, so none depends on another's."""
    await BROKER.call(lambda: ensure_topics(settings, settings.jobs_topic, settings.events_topic),
                      "creating topics")


async def keep_topics(settings: Kafka, interval: float = 5.0) -> None:
    """Re-creates the project's topics whenever they are missing, forever: a broker that lost its
    log (a memory-only broker restarted, a cluster rebuilt) comes back without them, and until
    they exist again no job or event can be sent or read. Run by the services that produce."""
    while True:
        try:
            await ensure_topics(settings, settings.jobs_topic, settings.events_topic)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            log.debug("checking topics: %s", exc)  # the broker is away; health says so
        await asyncio.sleep(interval)


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




async def _positions(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """Where the consumer will read next, for the assigned partitions that have a position."""
    positions = {}
    for tp in consumer.assignment():
        try:
            positions[tp] = await asyncio.wait_for(consumer.position(tp), 1.0)
        except (IllegalStateError, asyncio.TimeoutError):
            continue  # unassigned meanwhile, or its committed offset is still being fetched
    return positions


async def rewind_lost(consumer: AIOKafkaConsumer) -> set[TopicPartition]:
    """Seeks to the log's start every assigned partition whose position lies past the log's end:
    the broker lost its log (a memory-only broker restarted, a topic was re-created), so the
    committed offsets point at messages that will never exist. Without this the consumer waits
    until the new log grows past the old offset, skipping everything before it. Re-reading is
    harmless (claims and dedupe make a repeated message do nothing). Returns the partitions
    rewound, so callers can forget their bookkeeping for them.

    The end must say so twice: in the high watermark of the latest fetch response (which came
    with the records the position moved over, so it never lags them) and in ListOffsets (Tansu's
    answers the last batch's first offset + 1, which a batched produce leaves behind the records
    already fetched)."""
    positions = await _positions(consumer)
    fetched = {tp: consumer.highwater(tp) for tp in positions}
    suspect = [tp for tp, position in positions.items()
               if fetched[tp] is not None and position > fetched[tp]]
    if not suspect:
        return set()
    ends = await consumer.end_offsets(suspect)
    lost = {tp for tp in suspect if positions[tp] > ends.get(tp, positions[tp])}
    if lost:
        log.warning("log lost on %s (position past the end): reading them from the start",
                    ", ".join(f"{tp.topic}:{tp.partition}" for tp in sorted(lost)))
        await consumer.seek_to_beginning(*lost)
    return lost


async def lag(consumer: AIOKafkaConsumer) -> int:
    """Messages waiting in the assigned partitions beyond the consumer's position."""
    positions = await _positions(consumer)
    if not positions:
        return 0
    ends = await consumer.end_offsets(list(positions))
    return sum(max(ends.get(tp, p) - p, 0) for tp, p in positions.items())


class Progress:
    """Whether a consumer is getting anywhere, for its health check: call `moved()` whenever it
    takes or finishes a message; `check()` fails when messages are waiting and nothing has moved
    for `stall_after` seconds (so a wedged consumer reports NOT_SERVING and is restarted, instead
    of looking healthy while its partitions pile up)."""

    def __init__(self, consumer: AIOKafkaConsumer, stall_after: float) -> None:
        self.consumer = consumer
        self.stall_after = stall_after
        self.last = time.monotonic()

    def moved(self) -> None:
        self.last = time.monotonic()

    async def check(self) -> bool:
        if await lag(self.consumer) == 0:
            self.moved()  # nothing waiting: idle, not stuck
            return True
        return time.monotonic() - self.last < self.stall_after
