-- Idempotency-Key (services/status/idempotency.py): per project, the first response to a key,
-- replayed for 24 hours to the same request. A row without a status is a reservation: the request
-- is running on some gateway, which holds it until lease_until (it may have died; then the same
-- request may take the key over).
CREATE TABLE idempotency_keys (
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint  bytea NOT NULL,
    lease_id     uuid NOT NULL,
    lease_until  timestamptz,
    status       smallint,
    body         bytea,
    headers      jsonb,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (project_id, key),
    CHECK ((status IS NULL) = (lease_until IS NOT NULL))
);

-- The sweep deletes rows past expires_at, oldest first.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
