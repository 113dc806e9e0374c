"""REST v1 shapes built from the gRPC messages (field names exactly as in the seeds)."""

from __future__ import annotations

import json

from craftkit.renders import STATUS_NAME
from craftkit.timefmt import iso
from craftkit.v1 import projects_pb2, render_pb2, templates_pb2


def render_created(render: render_pb2.Render, base: str) -> dict:
    """The 202 body of POST /v1/templates/{slug}/render."""
    return {
        "id": render.id,
        "status": STATUS_NAME[render.status],
        "pollUrl": f"{base}/v1/renders/{render.id}",
        "downloadUrl": render.download_url or None,
        "errorMessage": render.error_message or None,
        "createdAt": iso(render.created_at_ms),
    }


def render(render: render_pb2.Render, base: str) -> dict:
    """GET /v1/renders/{id} (and each render of GET /v1/renders): the seeds' fields, then
    templateSlug and expiredAt (set once retention deleted the PDF and the data)."""
    return {
        **render_created(render, base),
        "completedAt": iso(render.completed_at_ms),
        "durationMs": None if render.duration_ms < 0 else render.duration_ms,
        "templateSlug": render.template_slug or None,
        "expiredAt": iso(render.expired_at_ms),
    }


def version(v: templates_pb2.TemplateVersion) -> dict:
    return {
        "number": v.number,
        "published": v.published,
        "createdAt": iso(v.created_at_ms),
        "publishedAt": iso(v.published_at_ms),
        "manifest": json.loads(v.manifest_json),
        "layout": json.loads(v.layout_json),
    }


def template(t: templates_pb2.Template, *, with_versions: bool = True) -> dict:
    body = {
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "defaultFilename": t.default_filename,
        "publishedVersion": t.published_version or None,
        "createdAt": iso(t.created_at_ms),
    }
    if with_versions:
        body["versions"] = [version(v) for v in t.versions]
    return body


def asset(a: templates_pb2.Asset) -> dict:
    return {"name": a.name, "contentType": a.content_type, "size": a.size, "sha256": a.sha256,
            "width": a.width, "height": a.height, "createdAt": iso(a.created_at_ms)}


def inbound_hook(h, base: str) -> dict:
    body = {"id": h.id, "templateSlug": h.template_slug, "versionNumber": h.version_number or None,
            "createdAt": iso(h.created_at_ms), "revokedAt": iso(h.revoked_at_ms)}
    if h.token:  # only when minted: the URL is the credential
        body["url"] = f"{base}/v1/hooks/{h.id}/{h.token}"
    return body


def api_key(k: projects_pb2.ApiKey, secret: str = "") -> dict:
    body = {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "createdAt": iso(k.created_at_ms), "lastUsedAt": iso(k.last_used_at_ms),
            "revokedAt": iso(k.revoked_at_ms)}
    if secret:  # only when made: the key itself, shown this once
        body["key"] = secret
    return body


def endpoint(e) -> dict:
    body = {"id": e.id, "url": e.url, "events": list(e.events), "enabled": e.enabled,
            "createdAt": iso(e.created_at_ms), "pausedUntil": iso(e.paused_until_ms)}
    if e.secret:  # only when made: CreateEndpoint and RotateSecret
        body["secret"] = e.secret
    return body


def delivery(d) -> dict:
    return {"id": d.id, "event": d.event, "renderId": d.render_id, "status": d.status,
            "createdAt": iso(d.created_at_ms), "nextAttemptAt": iso(d.next_attempt_at_ms),
            "attempts": [{"number": a.number, "statusCode": a.status_code or None,
                          "error": a.error or None, "durationMs": a.duration_ms,
                          "at": iso(a.at_ms)} for a in d.attempts]}


def share_link(link, base: str) -> dict:
    """A share link; `url` only when minted (the token is the credential, stored hashed)."""
    body = {"id": link.id, "expiresAt": iso(link.expires_at_ms),
            "maxDownloads": link.max_downloads or None, "downloads": link.downloads,
            "createdAt": iso(link.created_at_ms)}
    if link.token:
        body["url"] = f"{base}/s/{link.token}"
    else:
        body["revokedAt"] = iso(link.revoked_at_ms)
    return body
