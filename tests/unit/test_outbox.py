"""How the relay records its sends for health: per topic, the first failure raised so no row of
the batch is deleted. (The relay against the real database and broker: tests/integration.)"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import NotEnoughReplicasError

from craftkit import kafka
from craftkit.outbox import Outbox


class Broker:
    """Stands in for the producer: acks every send except those to the `refusing` topics."""

    def __init__(self, refusing: set[str]) -> None:
        self.refusing = refusing
        self.sent: list[str] = []

    async def send(self, topic: str, payload: bytes, key: bytes, headers=None) -> asyncio.Future:
        self.sent.append(topic)
        ack = asyncio.get_running_loop().create_future()
        if topic in self.refusing:
            ack.set_exception(NotEnoughReplicasError())
        else:
            ack.set_result(None)
        return ack


def rows(*topics: str) -> list[dict]:
    return [{"topic": topic, "payload": b"{}", "key": b"k", "trace_context": None}
            for topic in topics]


async def test_a_topic_with_too_few_replicas_is_reported_while_the_other_topic_is_not():
    outbox = Outbox(None, Broker(refusing={"render.events"}), ["render.jobs", "render.events"])
    with pytest.raises(NotEnoughReplicasError):
        await outbox._send(rows("render.jobs", "render.events", "render.jobs"))
    with pytest.raises(kafka.NotSending) as reported:
        outbox.sends.check()
    assert str(reported.value).startswith("render.events: [Error 19] NotEnoughReplicasError")
    assert "render.jobs" not in str(reported.value)


async def test_a_later_batch_that_goes_through_clears_the_report():
    broker = Broker(refusing={"render.events"})
    outbox = Outbox(None, broker, ["render.events"])
    with pytest.raises(NotEnoughReplicasError):
        await outbox._send(rows("render.events"))
    broker.refusing.clear()  # the replicas caught up
    await outbox._send(rows("render.events", "render.events"))
    outbox.sends.check()
    assert broker.sent == ["render.events"] * 3
