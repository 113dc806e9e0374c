"""Every REST v1 call as a `Call` (method, path, body, how the answer is read), once, for both
clients: a method of Client or AsyncClient is one line that sends what a function here builds."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from craftkit_client import models as m
from craftkit_client._core import (Call, content, json_body, model, models, page, post,
                                   query_time)

SYNC_READ_TIMEOUT = 45.0
"""Seconds a `sync` render request may wait for its answer: the server holds it up to its
SYNC_TIMEOUT_SECONDS (30 by default), then answers 202 at the latest."""


def seg(value: object) -> str:
    """A path segment: ids, slugs and names quoted, so a `/`, `?` or `..` in one cannot change
    the path the request goes to."""
    quoted = quote(str(value), safe="")
    # `.` and `..` are dot segments, which URL resolution removes (`/v1/keys/..` is `/v1`);
    # as %2E they are plain names, as the server reads them.
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _version_publish_parse(number: int):
    def parse(response) -> m.Version:
        template = model(m.Template)(response)
        return next(v for v in template.versions if v.number == number)
    return parse


# --- renders -----------------------------------------------------------------------------------

def create_render(slug: str, data: Any, *, version: int | None = None, sync: bool = False,
                  filename: str | None = None, idempotency_key: str | None = None) -> Call:
    options = {k: v for k, v in (("versionNumber", version), ("sync", sync or None),
                                 ("filename", filename)) if v is not None}
    body = {"data": data, **({"options": options} if options else {})}
    return post(f"/v1/templates/{seg(slug)}/render", body, model(m.Render), create=True,
                idempotency_key=idempotency_key, timeout=SYNC_READ_TIMEOUT if sync else None)


def get_render(render_id: str) -> Call:
    return Call("GET", f"/v1/renders/{seg(render_id)}", model(m.Render))


def list_renders(*, status: str | None = None, template: str | None = None,
                 created_after: datetime | str | None = None,
                 created_before: datetime | str | None = None, limit: int | None = None,
                 cursor: str | None = None) -> Call:
    params = {"status": status, "template": template, "createdAfter": query_time(created_after),
              "createdBefore": query_time(created_before), "limit": limit, "cursor": cursor}
    return Call("GET", "/v1/renders", page(m.Render, "data"), params=params)


def cancel_render(render_id: str) -> Call:
    """Not resendable: a cancel that reached the server answers 409 the second time."""
    return post(f"/v1/renders/{seg(render_id)}/cancel", None, model(m.Render))


def download(render_id: str) -> Call:
    """The PDF, streamed: the client reads the body itself (`parse` only checks the status)."""
    return Call("GET", f"/v1/renders/{seg(render_id)}/download", lambda r: r,
                headers={"accept": "application/pdf, application/json"})


# --- templates ---------------------------------------------------------------------------------

def list_templates(*, limit: int | None = None, cursor: str | None = None) -> Call:
    return Call("GET", "/v1/templates", page(m.Template, "templates"),
                params={"limit": limit, "cursor": cursor})


def get_template(slug: str) -> Call:
    return Call("GET", f"/v1/templates/{seg(slug)}", model(m.Template))


def create_template(slug: str, *, name: str | None = None, default_filename: str | None = None,
                    idempotency_key: str | None = None) -> Call:
    body = {"slug": slug, **({"name": name} if name is not None else {}),
            **({"defaultFilename": default_filename} if default_filename is not None else {})}
    return post("/v1/templates", body, model(m.Template), create=True,
                idempotency_key=idempotency_key)


def add_version(slug: str, manifest: dict, layout: dict, *,
                idempotency_key: str | None = None) -> Call:
    return post(f"/v1/templates/{seg(slug)}/versions", {"manifest": manifest, "layout": layout},
                model(m.Version), create=True, idempotency_key=idempotency_key)


def publish(slug: str, number: int) -> Call:
    """The API answers the template; the published version is picked out of it. Publishing
    twice is harmless, so the call may be resent."""
    return post(f"/v1/templates/{seg(slug)}/versions/{int(number)}/publish", None,
                _version_publish_parse(int(number)), resendable=True)


def version_schema(slug: str, number: int) -> Call:
    return Call("GET", f"/v1/templates/{seg(slug)}/versions/{int(number)}/schema",
                model(m.VersionSchema))


PREVIEW_TYPES = {"pdf": "application/pdf", "png": "image/png"}


def preview(slug: str, number: int, data: Any, *, format: str = "pdf") -> Call:
    """A preview stores nothing, so it may be resent."""
    if format not in PREVIEW_TYPES:
        raise ValueError(f"format must be one of {sorted(PREVIEW_TYPES)}, not {format!r}")
    return post(f"/v1/templates/{seg(slug)}/versions/{int(number)}/preview", {"data": data},
                content, resendable=True, accept=PREVIEW_TYPES[format])


def put_asset(slug: str, name: str, data: bytes, content_type: str) -> Call:
    """Assets are write-once: the same bytes again answer as the first time."""
    return Call("PUT", f"/v1/templates/{seg(slug)}/assets/{seg(name)}", model(m.Asset),
                content=bytes(data), headers={"content-type": content_type})


def get_asset(slug: str, name: str) -> Call:
    """An asset's bytes as uploaded (GET /v1/templates/{slug}/assets/{name})."""
    return Call("GET", f"/v1/templates/{seg(slug)}/assets/{seg(name)}", content,
                headers={"accept": "*/*"})


def list_assets(slug: str) -> Call:
    return Call("GET", f"/v1/templates/{seg(slug)}/assets", models(m.Asset, "assets"))


# --- webhooks ----------------------------------------------------------------------------------

def create_webhook(url: str, *, events: list[str] | None = None,
                   idempotency_key: str | None = None) -> Call:
    body = {"url": url, **({"events": list(events)} if events is not None else {})}
    return post("/v1/webhooks", body, model(m.Webhook), create=True,
                idempotency_key=idempotency_key)


def list_webhooks(*, limit: int | None = None, cursor: str | None = None) -> Call:
    return Call("GET", "/v1/webhooks", page(m.Webhook, "webhooks"),
                params={"limit": limit, "cursor": cursor})


def update_webhook(webhook_id: str, *, url: str | None = None, events: list[str] | None = None,
                   enabled: bool | None = None) -> Call:
    """Only the fields given change. Not resent after it may have arrived (PATCH)."""
    body = {k: v for k, v in (("url", url), ("events", None if events is None else list(events)),
                              ("enabled", enabled)) if v is not None}
    return Call("PATCH", f"/v1/webhooks/{seg(webhook_id)}", model(m.Webhook),
                content=json_body(body), headers={"content-type": "application/json"},
                resendable=False)


def delete_webhook(webhook_id: str) -> Call:
    return Call("DELETE", f"/v1/webhooks/{seg(webhook_id)}", model(m.Webhook))


def rotate_secret(webhook_id: str, *, overlap_seconds: int | None = None,
                  idempotency_key: str | None = None) -> Call:
    body = {} if overlap_seconds is None else {"overlapSeconds": overlap_seconds}
    return post(f"/v1/webhooks/{seg(webhook_id)}/rotate-secret", body, model(m.Webhook),
                create=True, idempotency_key=idempotency_key)


def deliveries(webhook_id: str, *, limit: int | None = None, cursor: str | None = None) -> Call:
    return Call("GET", f"/v1/webhooks/{seg(webhook_id)}/deliveries",
                page(m.Delivery, "deliveries"), params={"limit": limit, "cursor": cursor})


def redeliver(webhook_id: str, delivery_id: str, *, idempotency_key: str | None = None) -> Call:
    return post(f"/v1/webhooks/{seg(webhook_id)}/deliveries/{seg(delivery_id)}/redeliver", None,
                model(m.Delivery), create=True, idempotency_key=idempotency_key)


# --- API keys ----------------------------------------------------------------------------------

def create_key(name: str, scopes: list[str] | None = None, *,
               idempotency_key: str | None = None) -> Call:
    body = {"name": name, **({"scopes": list(scopes)} if scopes is not None else {})}
    return post("/v1/keys", body, model(m.ApiKey), create=True, idempotency_key=idempotency_key)


def list_keys(*, limit: int | None = None, cursor: str | None = None) -> Call:
    return Call("GET", "/v1/keys", page(m.ApiKey, "data"),
                params={"limit": limit, "cursor": cursor})


def revoke_key(key_id: str) -> Call:
    """Revoking twice answers the same revoked key: resendable."""
    return Call("DELETE", f"/v1/keys/{seg(key_id)}", model(m.ApiKey))


# --- share links -------------------------------------------------------------------------------

def create_share_link(render_id: str, *, expires_in: int | None = None,
                      max_downloads: int | None = None, idempotency_key: str | None = None) -> Call:
    body = {k: v for k, v in (("expiresIn", expires_in), ("maxDownloads", max_downloads))
            if v is not None}
    return post(f"/v1/renders/{seg(render_id)}/share-links", body, model(m.ShareLink),
                create=True, idempotency_key=idempotency_key)


def list_share_links(render_id: str) -> Call:
    return Call("GET", f"/v1/renders/{seg(render_id)}/share-links", models(m.ShareLink, "links"))


def revoke_share_link(render_id: str, link_id: str) -> Call:
    return Call("DELETE", f"/v1/renders/{seg(render_id)}/share-links/{seg(link_id)}",
                model(m.ShareLink))
