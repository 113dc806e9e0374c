-- Outgoing webhooks: endpoints, one delivery per (endpoint, render) and every attempt of it. The
-- schedule is these rows: a restarted webhooks service loses and duplicates nothing.

CREATE TABLE webhook_endpoints (
    id                 uuid PRIMARY KEY,
    project_id         uuid NOT NULL REFERENCES projects,
    url                text NOT NULL,
    events             text[] NOT NULL,
    -- HMAC keys must be kept to sign; the API shows a secret only when it is made.
    secret             text NOT NULL,
    previous_secret    text,
    previous_until     timestamptz,
    enabled            boolean NOT NULL DEFAULT true,
    -- Circuit breaker: failing since, and held back until.
    failing_since      timestamptz,
    paused_until       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    deleted_at         timestamptz
);

CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints,
    render_id        uuid NOT NULL,
    event            text NOT NULL,
    payload          bytea NOT NULL,  -- the exact body, signed as it is sent
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    give_up_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    UNIQUE (endpoint_id, render_id, event)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries,
    number       integer NOT NULL,
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    PRIMARY KEY (delivery_id, number)
);

-- Inbound hooks: the URL's token is stored only as a SHA-256 hash.
CREATE TABLE inbound_hooks (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects,
    template_id     uuid NOT NULL REFERENCES templates,
    version_number  integer,
    token_sha256    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    revoked_at      timestamptz
);
