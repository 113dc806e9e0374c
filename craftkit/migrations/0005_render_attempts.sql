-- Why the last attempt at a render stopped without an outcome (its render process died, storing the
-- PDF failed), so the render that runs out of attempts (RENDER_MAX_ATTEMPTS) fails saying why.
ALTER TABLE renders ADD COLUMN last_error text;
