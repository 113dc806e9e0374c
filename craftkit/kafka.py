"""Kafka clients with the settings every service shares (aiokafka; nothing broker-specific)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (IllegalStateError, KafkaError, NoError,
                             NotEnoughReplicasAfterAppendError, NotEnoughReplicasError,
                             TopicAlreadyExistsError, for_code)
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import TopicPartition
from prometheus_client import Gauge

from craftkit.config import ConfigError, Kafka
from craftkit.retry import RetryPolicy, errors_of

log = logging.getLogger(__name__)

# While no broker answers: start-up of producers and consumers, topic creation.
BROKER = RetryPolicy(initial=0.2, maximum=5.0,
                     retriable=errors_of(KafkaError, OSError, asyncio.TimeoutError))
# How often clients refresh what they know of topics and partitions. aiokafka's default, 5 minutes,
# left consumers of a broker that came back without its topics idle for those 5 minutes.
METADATA_MAX_AGE_MS = 5000


def connection(settings: Kafka) -> dict:
    """What every client (producer, consumer, admin) needs to reach and log in to the brokers:
    the bootstrap list, TLS (a CA, optionally a client certificate) and SASL."""
    options: dict = {"bootstrap_servers": settings.bootstrap_servers,
                     "security_protocol": settings.security_protocol}
    if settings.uses_tls:
        options["ssl_context"] = ssl_context(settings)
    if settings.uses_sasl:
        options.update(sasl_mechanism=settings.sasl_mechanism,
                       sasl_plain_username=settings.sasl_username,
                       sasl_plain_password=settings.sasl_password)
    return options


def ssl_context(settings: Kafka) -> ssl.SSLContext:
    """The brokers' CA and the client certificate, read now: a missing or unreadable file, or a
    key that does not match its certificate, stops the service at start naming the setting."""
    for name, path in settings.tls_files.items():
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"{name}: no readable file at {path!r}")
    try:
        return create_ssl_context(cafile=settings.ssl_ca_file or None,
                                  certfile=settings.ssl_cert_file or None,
                                  keyfile=settings.ssl_key_file or None)
    except ssl.SSLError as exc:
        raise ConfigError(f"KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE: {exc} (a "
                          "PEM CA, and a certificate with its own key)") from None


def producer(settings: Kafka) -> AIOKafkaProducer:
    # acks="all": a job counts as handed over only once every in-sync replica has it.
    # No idempotent producer: consumers dedupe by render id instead (see the render worker).
    return AIOKafkaProducer(
        **connection(settings),
        acks="all",
        linger_ms=0,
        request_timeout_ms=5000,
        retry_backoff_ms=100,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        client_id="craftkit",
    )


def consumer(settings: Kafka, topic: str, group: str, **overrides) -> AIOKafkaConsumer:
    options = dict(
        **connection(settings),
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
            # The broker away (health says so) is routine; a refusal is the operator's to fix.
            level = logging.WARNING if isinstance(exc, TopicRefused) else logging.DEBUG
            log.log(level, "checking topics: %s", exc)
        await asyncio.sleep(interval)


def new_topic(settings: Kafka, name: str) -> NewTopic:
    """A topic as the settings describe it: partitions, replication factor (-1: the broker's
    default.replication.factor) and topic configs."""
    topic = NewTopic(name, settings.partitions, 1, topic_configs=settings.topic_configs)
    # aiokafka's NewTopic refuses -1 without a replica assignment, though brokers take it
    # (Apache Kafka's controller replaces -1 by default.replication.factor; Tansu accepts it).
    topic.replication_factor = settings.replication_factor
    return topic


async def ensure_topics(settings: Kafka, *topics: str) -> None:
    """Creates the topics that do not exist yet, as `new_topic` describes them."""
    admin = AIOKafkaAdminClient(**connection(settings), request_timeout_ms=5000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [new_topic(settings, t) for t in topics if t not in existing]
        if missing:
            try:
                response = await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                return
            refused(response)
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()


class TopicRefused(KafkaError):
    """The broker refused to create a topic: the settings need fixing, not the network."""


def refused(response) -> None:
    """Raises TopicRefused for a topic the broker refused to create (a replication factor above
    the number of brokers, an unknown config), naming the topic, the error and the broker's
    reason. A topic another service created meanwhile is no error."""
    for topic, code, *message in response.topic_errors:
        error = for_code(code)
        if error not in (NoError, TopicAlreadyExistsError):
            reason = (message[0] if message else None) or error.description
            raise TopicRefused(f"the broker refused to create topic {topic}: {error.__name__}: "
                               f"{reason} (check KAFKA_REPLICATION_FACTOR, KAFKA_TOPIC_CONFIGS)")


async def reachable(client: AIOKafkaProducer | AIOKafkaConsumer, timeout: float = 3.0) -> bool:
    """True when some broker answers a metadata request within `timeout`."""
    inner = client.client if isinstance(client, AIOKafkaProducer) else client._client
    try:
        await asyncio.wait_for(inner.fetch_all_metadata(), timeout)
        return True
    except (KafkaError, asyncio.TimeoutError, OSError):
        return False




CONSUMER_LAG = Gauge(
    "craftkit_kafka_consumer_lag",
    "Messages in a partition past the consumer group's committed offset (the log's end minus "
    "the commit), per partition assigned to this process's consumer.",
    ["group", "topic", "partition"])
LAG_INTERVAL = 5.0


async def partition_lag(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """Per assigned partition, the messages past the group's committed offset: what the group
    would read again if its members restarted now (the jobs in hand included). Where the group
    has committed nothing yet, from the log's start (auto_offset_reset="earliest"). The end is
    the larger of ListOffsets' answer and the latest fetch's high watermark (Tansu's ListOffsets
    can fall behind what was fetched; see rewind_lost)."""
    assigned = list(consumer.assignment())
    if not assigned:
        return {}
    ends = await consumer.end_offsets(assigned)
    commits = dict(zip(assigned, await asyncio.gather(*(consumer.committed(tp)
                                                        for tp in assigned)), strict=True))
    uncommitted = [tp for tp, offset in commits.items() if offset is None]
    starts = await consumer.beginning_offsets(uncommitted) if uncommitted else {}
    lags = {}
    for tp in set(assigned) & consumer.assignment():  # not those revoked meanwhile
        done = commits[tp] if commits[tp] is not None else starts.get(tp, 0)
        end = max(ends.get(tp, 0), consumer.highwater(tp) or 0)
        lags[tp] = max(end - done, 0)
    return lags


async def export_lag(consumer: AIOKafkaConsumer, group: str,
                     interval: float = LAG_INTERVAL) -> None:
    """Keeps craftkit_kafka_consumer_lag up to date for the consumer's partitions, every
    `interval` seconds, forever: partitions no longer assigned leave the gauge (also when this
    task ends). A broker that does not answer leaves the last values (health reports it)."""
    shown: set[TopicPartition] = set()
    try:
        while True:
            try:
                lags = await asyncio.wait_for(partition_lag(consumer), 2 * interval)
            except (KafkaError, OSError, asyncio.TimeoutError, IllegalStateError) as exc:
                log.debug("measuring the consumer's lag: %s", exc)
            else:
                _forget_lag(group, shown - lags.keys())
                for tp, behind in lags.items():
                    CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(behind)
                shown = set(lags)
            await asyncio.sleep(interval)
    finally:
        _forget_lag(group, shown)


def _forget_lag(group: str, partitions) -> None:
    for tp in partitions:
        try:
            CONSUMER_LAG.remove(group, tp.topic, str(tp.partition))
        except KeyError:
            pass


# What acks=all gets from a partition with fewer in-sync replicas than min.insync.replicas
# (aiokafka retries it for request_timeout_ms, then raises it to the sender).
TOO_FEW_REPLICAS = (NotEnoughReplicasError, NotEnoughReplicasAfterAppendError)


class NotSending(Exception):
    """Sends to Kafka fail although a broker answers."""


class Sends:
    """How the latest send to each topic went, for the "kafka" health check. A broker that
    answers metadata requests but refuses every produce (too few in-sync replicas for acks=all,
    no right to write the topic) looked healthy while the outbox never drained; now a topic's
    failure stays reported, with its reason, until a send to that topic succeeds."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}

    def succeeded(self, topic: str) -> None:
        if self.failures.pop(topic, None):
            log.info("sends to %s succeed again", topic)

    def failed(self, topic: str, exc: BaseException) -> None:
        reason = why_not_sent(exc)
        if self.failures.get(topic) != reason:
            log.error("sending to %s fails: %s", topic, reason)
        self.failures[topic] = reason

    def check(self) -> None:
        """Raises NotSending with the reasons while the latest send to some topic failed."""
        if self.failures:
            raise NotSending("; ".join(f"{topic}: {reason}"
                                       for topic, reason in sorted(self.failures.items())))


def why_not_sent(exc: BaseException) -> str:
    """A failed send's reason, with what to look at when it is a replication problem."""
    name, text = type(exc).__name__, str(exc)
    reason = text if name in text else f"{name}: {text}" if text else name  # KafkaError: both
    if isinstance(exc, TOO_FEW_REPLICAS):
        reason += (" (a partition has fewer in-sync replicas than its min.insync.replicas, so "
                   "no acks=all produce succeeds: bring the brokers back, or check "
                   "KAFKA_REPLICATION_FACTOR and the topic's min.insync.replicas)")
    return reason


async def sending(producer: AIOKafkaProducer, sends: Sends) -> bool:
    """The producing services' "kafka" check: the latest send succeeded (or none failed yet)
    and a broker answers."""
    sends.check()
    if not await reachable(producer):
        raise NotSending("no broker answers (KAFKA_BOOTSTRAP_SERVERS)")
    return True


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
