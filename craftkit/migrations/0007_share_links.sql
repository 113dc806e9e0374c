-- Share links: a URL that downloads one render's PDF with no API key, until it expires, is revoked,
-- or has been opened max_downloads times. The URL's token is random and kept only as its SHA-256
-- (like API keys and inbound hooks): the table leaking hands out no link.
CREATE TABLE share_links (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES projects,
    render_id      uuid NOT NULL REFERENCES renders,
    token_sha256   text NOT NULL UNIQUE,
    expires_at     timestamptz NOT NULL,
    -- NULL: no limit.
    max_downloads  integer CHECK (max_downloads > 0),
    downloads      integer NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    created_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    revoked_at     timestamptz,
    CHECK (max_downloads IS NULL OR downloads <= max_downloads)
);

CREATE INDEX share_links_render ON share_links (render_id, created_at);
