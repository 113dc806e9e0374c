-- Images a template's layouts may show (PNG or JPEG), uploaded over the API. Write-once per name:
-- versions are immutable, so what they reference must be too.
CREATE TABLE template_assets (
    template_id   uuid NOT NULL REFERENCES templates,
    name          text NOT NULL,
    content_type  text NOT NULL,
    sha256        text NOT NULL,
    data          bytea NOT NULL,
    width         integer NOT NULL,
    height        integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    PRIMARY KEY (template_id, name)
);
