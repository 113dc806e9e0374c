-- Cancellation, listing and retention (issue 9).

-- When retention (RENDER_RETENTION_DAYS) deleted the PDF and the request's data. The row stays
-- readable forever; downloadUrl is then null.
ALTER TABLE renders ADD COLUMN expired_at timestamptz;

-- The state machine of 0001, with one more change allowed on a terminal row: retention's, once.
-- It sets expired_at, empties data and clears download_url; every other column, including
-- columns added later, must stay as it was (compared as jsonb minus those three).
CREATE OR REPLACE FUNCTION renders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
        IF TG_OP = 'UPDATE' AND OLD.expired_at IS NULL AND NEW.expired_at IS NOT NULL
           AND NEW.data = '{}'::jsonb AND NEW.download_url IS NULL
           AND to_jsonb(NEW) - 'expired_at' - 'data' - 'download_url'
               = to_jsonb(OLD) - 'expired_at' - 'data' - 'download_url' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'render % is % and can no longer change', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'queued' AND NEW.status IN ('rendering', 'failed', 'cancelled')) OR
        (OLD.status = 'rendering' AND NEW.status IN ('succeeded', 'failed'))) THEN
        RAISE EXCEPTION 'render % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.id, NEW.project_id, NEW.template_id, NEW.version_number, NEW.data, NEW.filename,
        NEW.created_at, NEW.expired_at) IS DISTINCT FROM (OLD.id, OLD.project_id, OLD.template_id,
        OLD.version_number, OLD.data, OLD.filename, OLD.created_at, OLD.expired_at) THEN
        RAISE EXCEPTION 'render % request fields are immutable (and only a terminal render expires)',
            OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

-- GET /v1/renders: newest first, keyset on (created_at, id), one index per filter combination the
-- API offers, so every page is an index range read of `limit` rows whatever the project's size
-- (createdAfter/createdBefore narrow the created_at range of the same indexes).
-- IF NOT EXISTS: on a large table an operator may build them first, without blocking writes
-- (CREATE INDEX CONCURRENTLY with these names and columns); this migration then only checks.
CREATE INDEX IF NOT EXISTS renders_by_project ON renders (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS renders_by_status ON renders (project_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS renders_by_template ON renders (project_id, template_id, created_at, id);
CREATE INDEX IF NOT EXISTS renders_by_template_status
    ON renders (project_id, template_id, status, created_at, id);

-- Retention reads the oldest terminal renders not expired yet; expired ones leave this index.
CREATE INDEX IF NOT EXISTS renders_to_expire ON renders (completed_at)
    WHERE expired_at IS NULL AND completed_at IS NOT NULL;

-- The keyset orders of the other lists: webhook endpoints oldest first, deliveries newest first
-- (templates page by slug on the (project_id, slug) unique index).
CREATE INDEX IF NOT EXISTS webhook_endpoints_page ON webhook_endpoints (project_id, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS webhook_deliveries_page
    ON webhook_deliveries (endpoint_id, created_at, id);
DROP INDEX webhook_deliveries_endpoint;  -- (endpoint_id, created_at DESC): the one above covers it
