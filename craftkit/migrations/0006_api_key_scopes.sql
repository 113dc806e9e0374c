-- API keys become manageable: a stable, non-secret id (what DELETE /v1/keys/{id} and
-- `craftkit keys revoke` name; key_sha256 stays the lookup of a bearer key), a name, the scopes
-- the key may use (full ⊇ render ⊇ download; keys made before scopes keep doing everything) and
-- when it was last used (written by Authenticate at most once a second per key).
ALTER TABLE api_keys
    ADD COLUMN id           uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN name         text NOT NULL DEFAULT '',
    ADD COLUMN scopes       text[] NOT NULL DEFAULT '{full}'
        CHECK (cardinality(scopes) > 0 AND scopes <@ '{full,render,download}'::text[]),
    ADD COLUMN last_used_at timestamptz;

-- GET /v1/keys: a project's keys, newest first, by keyset.
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at DESC, id DESC);
