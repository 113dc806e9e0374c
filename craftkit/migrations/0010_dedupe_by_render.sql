-- Retention deletes a render's dedupe row with its data: the row keeps a hash of the data, which
-- would confirm a guess of it after the data itself is gone. Found by render id.
CREATE INDEX IF NOT EXISTS render_dedupe_by_render ON render_dedupe (render_id);
