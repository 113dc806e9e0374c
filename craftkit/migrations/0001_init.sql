-- The whole schema of the render pipeline. Timestamps are kept at millisecond precision, as the API
-- shows them, so durationMs is exactly completedAt - createdAt.

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

-- API keys are stored only as SHA-256 hashes; `prefix` is the first characters, for humans.
CREATE TABLE api_keys (
    key_sha256  text PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects,
    prefix      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    revoked_at  timestamptz
);

CREATE TABLE templates (
    id                uuid PRIMARY KEY,
    project_id        uuid NOT NULL REFERENCES projects,
    slug              text NOT NULL,
    name              text NOT NULL,
    default_filename  text NOT NULL,
    published_version integer,
    created_at        timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    UNIQUE (project_id, slug)
);

-- Versions never change once added: renders and caches rely on it. Manifest and layout are `json`,
-- not `jsonb`, to keep the author's key order (fields, columns) exactly as written.
CREATE TABLE template_versions (
    template_id   uuid NOT NULL REFERENCES templates,
    number        integer NOT NULL CHECK (number > 0),
    manifest      json NOT NULL,
    layout        json NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    published_at  timestamptz,
    PRIMARY KEY (template_id, number)
);

ALTER TABLE templates ADD FOREIGN KEY (id, published_version)
    REFERENCES template_versions (template_id, number) DEFERRABLE INITIALLY DEFERRED;

CREATE TYPE render_status AS ENUM ('queued', 'rendering', 'succeeded', 'failed', 'cancelled');

CREATE TABLE renders (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects,
    template_id     uuid NOT NULL,
    version_number  integer NOT NULL,
    data            jsonb NOT NULL,
    filename        text NOT NULL,
    status          render_status NOT NULL DEFAULT 'queued',
    -- Incremented by every claim; the fencing token a worker must quote to finish the render.
    attempt         integer NOT NULL DEFAULT 0,
    object_key      text,
    download_url    text,
    error_message   text,
    created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    -- When the current attempt claimed the job (its lease starts here).
    started_at      timestamptz,
    completed_at    timestamptz,
    duration_ms     integer,
    -- When the job was last handed to Kafka; the sweeper re-publishes stale unfinished renders.
    published_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (template_id, version_number) REFERENCES template_versions
);

CREATE INDEX renders_unfinished ON renders (published_at) WHERE status IN ('queued', 'rendering');

-- Every status change, written by the database itself.
CREATE TABLE render_transitions (
    id         bigserial PRIMARY KEY,
    render_id  uuid NOT NULL REFERENCES renders,
    status     render_status NOT NULL,
    attempt    integer NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX render_transitions_render ON render_transitions (render_id, id);

-- Identical requests inside the dedupe window map to one render.
CREATE TABLE render_dedupe (
    project_id  uuid NOT NULL,
    dedupe_key  bytea NOT NULL,
    render_id   uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, dedupe_key)
);

-- Transactional outbox: rows written with the change they announce, relayed to Kafka, then deleted.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX outbox_topic ON outbox (topic, id);

-- The render state machine, enforced where no code path can skip it: terminal rows never change,
-- nor are they deleted; only the transitions below are allowed; the request half of a row is fixed.
CREATE FUNCTION renders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
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
        NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.project_id, OLD.template_id,
        OLD.version_number, OLD.data, OLD.filename, OLD.created_at) THEN
        RAISE EXCEPTION 'render % request fields are immutable', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER renders_guard BEFORE UPDATE OR DELETE ON renders
    FOR EACH ROW EXECUTE FUNCTION renders_guard();

CREATE FUNCTION renders_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status OR NEW.attempt <> OLD.attempt THEN
        INSERT INTO render_transitions (render_id, status, attempt)
            VALUES (NEW.id, NEW.status, NEW.attempt);
    END IF;
    IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
        PERFORM pg_notify('render_terminal', NEW.id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER renders_log AFTER INSERT OR UPDATE ON renders
    FOR EACH ROW EXECUTE FUNCTION renders_log();

-- The webhooks service's record of completion events (delivery comes later).
CREATE TABLE webhook_events (
    render_id    uuid PRIMARY KEY,
    event        text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
