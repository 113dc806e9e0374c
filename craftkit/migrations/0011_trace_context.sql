-- Traces cross Kafka by hand (craftkit/tracing.py): an outbox row keeps the W3C trace context
-- ({"traceparent": ..., "tracestate": ...}) of the span that wrote it, and both the fast path
-- and the relay send it as Kafka headers. A webhook delivery keeps its completion event's, so
-- every attempt, retries a day later included, joins the render's trace. NULL: no trace (tracing
-- off, a row from before this migration, a sweep): the consumer starts a new one.
ALTER TABLE outbox ADD COLUMN trace_context jsonb;
ALTER TABLE webhook_deliveries ADD COLUMN trace_context jsonb;
