"""What the operator sees of the outbox while Kafka is away: craftkit_outbox_backlog_rows counts
each waiting render's job once, however often the sweeper looks for lost jobs meanwhile (a job
still in the outbox is not lost: the relay sends it when the broker is back), and drops back to
0 once the broker returns."""

from __future__ import annotations

import asyncio

from craftkit import db
from craftkit.outbox import Outbox
from craftkit.config import Database
from craftkit.v1 import render_pb2
from services.enqueue import sweeper
from tests.integration.conftest import eventually, invoice
from tests.integration.test_metrics import scrape, value

JOBS = "render.jobs"


def backlog(stack) -> float:
    return value(scrape(stack.metrics_url("enqueue")), "craftkit_outbox_backlog_rows", topic=JOBS)


def sweep_now(stack) -> int:
    """One pass of the job sweep as the enqueue service runs it, every queued render due."""
    async def run() -> int:
        pool = db.pool(Database(url=stack.infra.database_url, pool_size=1))
        await pool.open()
        try:
            outbox = Outbox(pool, producer=None, topics=[JOBS])  # not connected: rows stay
            return await sweeper.sweep(pool, outbox, topic=JOBS, after=0, lease=3600)
        finally:
            await pool.close()

    return asyncio.run(run())


def test_while_kafka_is_down_each_waiting_render_is_one_backlog_row(stack, api):
    assert backlog(stack) == 0
    stack.infra.stop_broker()
    try:
        ids = [api.render(invoice(f"outage {n}")).json()["id"] for n in range(3)]
        eventually(lambda: backlog(stack) >= 3, what="the 3 jobs in the outbox backlog")
        for _ in range(3):  # the enqueue service's sweeps, every REDELIVER_AFTER_SECONDS
            assert sweep_now(stack) == 0  # their jobs are waiting in the outbox, not lost
        eventually(lambda: backlog(stack) == 3, what="the backlog measured again")
    finally:
        stack.infra.start_broker()
    eventually(lambda: backlog(stack) == 0, timeout=60, what="the backlog drained")
    for render_id in ids:
        assert api.wait(render_id, timeout=120).status == render_pb2.RENDER_STATUS_SUCCEEDED
