"""What an operator sees on the render worker's /metrics (and the consumers' lag), on the real
stack: renders by template and outcome, pages and bytes, renders in flight, renders stopped by a
limit, S3 PUTs, and each consumer group's lag per partition. (Renders killed by the time or
memory limit, and the render processes replaced, are in test_isolation.py, whose stack has short
limits.)"""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY

from craftkit import kafka
from craftkit.config import Kafka
from craftkit.v1 import render_pb2 as S
from tests.integration.conftest import eventually, invoice, unrenderable_invoice
from tests.integration.scraped import Scrape

DURATION = "craftkit_render_duration_seconds_count"


def worker(stack) -> Scrape:
    return Scrape(stack.metrics_url("render_worker"))


def test_a_render_that_succeeds_is_counted_under_its_template_with_its_pages_and_bytes(stack,
                                                                                       api):
    before = worker(stack)
    done = api.render(invoice(rows=120), sync=True)
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text
    pdf = api.http.get(f"/v1/renders/{done.json()['id']}/download").content
    assert pdf.startswith(b"%PDF")

    after = eventually(lambda: (s := worker(stack)).value("craftkit_renders_in_flight") == 0
                       and s, what="no render in flight")

    def grew(name: str, by: float, **labels: str) -> bool:
        return after.value(name, **labels) >= before.value(name, **labels) + by

    assert grew(DURATION, 1, template="invoice", outcome="succeeded")
    assert grew("craftkit_render_pages_count", 1)
    # 120 rows take more than one page; the sums grow by at least this render's.
    assert grew("craftkit_render_pages_sum", 2)
    assert grew("craftkit_render_bytes_sum", len(pdf))
    assert grew("craftkit_s3_put_duration_seconds_count", 1, outcome="ok")


def test_a_render_over_the_row_limit_is_counted_killed_naming_the_limit(stack, api):
    before = worker(stack)
    response = api.render(unrenderable_invoice())
    assert response.status_code == 202, response.text
    render = api.wait(response.json()["id"])
    assert render.status == S.RENDER_STATUS_FAILED and "row limit" in render.error_message

    after = worker(stack)
    assert (after.value("craftkit_renders_killed_total", limit="rows")
            == before.value("craftkit_renders_killed_total", limit="rows") + 1)
    assert (after.value(DURATION, template="invoice", outcome="killed")
            >= before.value(DURATION, template="invoice", outcome="killed") + 1)
    # Not the template's fault: no "failed" for it.
    assert (after.value(DURATION, template="invoice", outcome="failed")
            == before.value(DURATION, template="invoice", outcome="failed"))


def test_every_worker_metric_is_listed_and_every_limit_has_its_series(stack):
    scrape = worker(stack)
    for name in ("craftkit_render_duration_seconds", "craftkit_render_pages",
                 "craftkit_render_bytes", "craftkit_renders_in_flight",
                 "craftkit_renders_killed_total", "craftkit_s3_put_duration_seconds",
                 "craftkit_render_pool_restarts_total", "craftkit_kafka_consumer_lag"):
        assert scrape.lists(name), name
    # A dashboard's rate() per limit needs the series before the first kill.
    assert {s["limit"] for s in scrape.series("craftkit_renders_killed_total")} == {
        "time", "memory", "pages", "rows", "process_died"}


async def partitions_of(stack, topic: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.infra.kafka_bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {str(p["partition"]) for p in description["partitions"]}


def test_each_consumer_group_shows_its_lag_per_partition_back_to_zero_once_consumed(stack, api):
    done = api.render(invoice(), sync=True)
    assert done.json()["status"] == "succeeded", done.text

    def caught_up(service: str, group: str, topic: str) -> bool:
        partitions = asyncio.run(partitions_of(stack, topic))
        lags = [s for s in Scrape(stack.metrics_url(service)).samples
                if s.name == "craftkit_kafka_consumer_lag"]
        assert all(s.labels["group"] == group and s.labels["topic"] == topic for s in lags)
        return {s.labels["partition"] for s in lags} == partitions and all(
            s.value == 0 for s in lags)

    eventually(lambda: caught_up("render_worker", "render-workers", "render.jobs"),
               what="the workers' lag on every partition at 0")
    eventually(lambda: caught_up("webhooks", "webhooks", "render.events"),
               what="the webhooks' lag on every partition at 0")


async def test_lag_counts_the_messages_past_the_commit_and_leaves_with_the_partitions(stack):
    """craftkit.kafka.export_lag against the real broker: 5 messages waiting show as 5 on their
    partition, 0 once consumed and committed, and the series go when the partitions do."""
    topic, group = f"test.lag.{uuid.uuid4().hex[:8]}", f"test-lag-{uuid.uuid4().hex[:8]}"
    settings = Kafka(stack.infra.kafka_bootstrap, topic, topic, 2, 1.0)
    await kafka.ensure_topics(settings, topic)
    producer = AIOKafkaProducer(**kafka.connection(settings))
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, b"x", partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**kafka.connection(settings), group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    await consumer.start()

    def lag(partition: int) -> float | None:
        return REGISTRY.get_sample_value("craftkit_kafka_consumer_lag", {
            "group": group, "topic": topic, "partition": str(partition)})

    async def until(predicate) -> None:
        for _ in range(200):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"lag is {lag(0)} and {lag(1)}")

    exporting = asyncio.create_task(kafka.export_lag(consumer, group, interval=0.1))
    try:
        await until(lambda: lag(0) == 5 and lag(1) == 0)
        taken = 0
        while taken < 5:
            batches = await consumer.getmany(timeout_ms=1000)
            taken += sum(len(batch) for batch in batches.values())
        # Fetched but not committed (a worker's jobs in hand): still behind.
        assert await kafka.partition_lag(consumer) == {TopicPartition(topic, 0): 5,
                                                       TopicPartition(topic, 1): 0}
        await consumer.commit()
        await until(lambda: lag(0) == 0 and lag(1) == 0)
        consumer.unsubscribe()  # the partitions go
        await until(lambda: lag(0) is None and lag(1) is None)
    finally:
        exporting.cancel()
        await asyncio.gather(exporting, return_exceptions=True)
        await consumer.stop()
