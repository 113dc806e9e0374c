-- The event sweep (enqueue service): a terminal render whose completion event the webhooks service
-- has not recorded (webhook_events) some time after it completed has its event published again.
-- Renders never change once terminal, so the sweep's bookkeeping lives here: when each render's
-- event was last re-published, and when it may be again (the wait doubles, up to a cap).
CREATE TABLE event_sweeps (
    render_id       uuid PRIMARY KEY,
    sweeps          integer NOT NULL,
    last_swept_at   timestamptz NOT NULL,
    next_sweep_at   timestamptz NOT NULL
);

-- The sweep reads only renders completed within a bounded window, newest last.
CREATE INDEX renders_completed ON renders (completed_at) WHERE completed_at IS NOT NULL;
