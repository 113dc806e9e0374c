"""The webhooks service's Prometheus metrics (docs/metrics.md).

Attempts are counted where they are made (deliveries.Deliverer.deliver). The backlog (pending
deliveries, the oldest one's age, paused endpoints) is the whole schedule's, read from PostgreSQL
by one query every BACKLOG_INTERVAL seconds in the background, never per request: every replica
reports the same values (dashboards take the max). The consumer's lag per partition is
craftkit.kafka's (craftkit_kafka_consumer_lag).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from prometheus_client import Counter, Gauge, Histogram
from psycopg_pool import AsyncConnectionPool

from craftkit import metrics

BACKLOG_INTERVAL = 5.0
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")

DELIVERIES = Counter(
    "craftkit_webhook_deliveries_total",
    "Delivery attempts by what became of the delivery (delivered, retrying, gave_up) and the "
    "class of the receiver's HTTP status (none: no answer - refused, timed out, TLS failed, "
    "or the target was refused).",
    ["outcome", "status_class"])
ATTEMPT_DURATION = Histogram(
    "craftkit_webhook_attempt_duration_seconds",
    "Each delivery attempt, from checking the target to the receiver's answer, by outcome.",
    ["outcome"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PENDING = Gauge(
    "craftkit_webhook_pending_deliveries",
    "Deliveries not delivered nor given up yet, to enabled endpoints (paused ones included).")
OLDEST_PENDING_AGE = Gauge(
    "craftkit_webhook_oldest_pending_age_seconds",
    "Age of the oldest pending delivery to an endpoint that is not paused (since its event was "
    "recorded); 0 when none.")
ENDPOINTS_PAUSED = Gauge(
    "craftkit_webhook_endpoints_paused",
    "Endpoints whose circuit breaker is open (failing for WEBHOOK_BREAKER_AFTER_SECONDS, held "
    "back until their pause ends).")

for _outcome in ("delivered", "retrying", "gave_up"):
    for _status_class in STATUS_CLASSES:
        DELIVERIES.labels(_outcome, _status_class)
for _outcome in ("delivered", "failed"):
    ATTEMPT_DURATION.labels(_outcome)


def status_class(code: int | None) -> str:
    """2xx .. 5xx, or none when there was no HTTP answer (or one outside 200-599)."""
    if code is None or not 200 <= code < 600:
        return "none"
    return f"{code // 100}xx"


def attempted(code: int | None, delivered: bool, give_up_at: datetime, delay: float,
              seconds: float) -> None:
    """Counts one attempt. A failed one is retrying, or gave_up when its next attempt would come
    after give_up_at (what deliveries.OUTCOMES records)."""
    if delivered:
        outcome = "delivered"
    elif datetime.now(timezone.utc) + timedelta(seconds=delay) > give_up_at:
        outcome = "gave_up"
    else:
        outcome = "retrying"
    DELIVERIES.labels(outcome, status_class(code)).inc()
    ATTEMPT_DURATION.labels("delivered" if delivered else "failed").observe(seconds)


BACKLOG = """
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM clock_timestamp() - min(d.created_at) FILTER (
           WHERE w.paused_until IS NULL OR w.paused_until <= clock_timestamp())), 0)::float8
           AS oldest,
       (SELECT count(*) FROM webhook_endpoints
        WHERE paused_until > clock_timestamp() AND enabled AND deleted_at IS NULL) AS paused
FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE d.status = 'pending' AND w.enabled AND w.deleted_at IS NULL
"""


async def refresh_backlog(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(BACKLOG)
        row = await cur.fetchone()
    PENDING.set(row["pending"])
    OLDEST_PENDING_AGE.set(row["oldest"])
    ENDPOINTS_PAUSED.set(row["paused"])


async def watch_backlog(pool: AsyncConnectionPool, interval: float = BACKLOG_INTERVAL) -> None:
    """Refreshes the backlog gauges every `interval` seconds, forever."""
    await metrics.refresh_every(interval, lambda: refresh_backlog(pool),
                                "reading the delivery backlog")
