"""REST v1 shapes built from the gRPC messages (field names exactly as in the seeds). Each view's
JSON Schema is declared beside it (registered in SCHEMAS under its name); the OpenAPI document
(services/gateway/openapi.py) publishes them and tests/unit/test_views.py checks every view's
output against its schema."""

from __future__ import annotations

import json

from craftkit.renders import STATUS, STATUS_NAME
from craftkit.timefmt import iso
from craftkit.v1 import projects_pb2, render_pb2, templates_pb2
from services.gateway.auth import SCOPES
from services.webhooks.endpoints import EVENTS

SCHEMAS: dict[str, dict] = {}
"""Every response body's JSON Schema by name (the document's components.schemas)."""
TIME = {"type": "string", "format": "date-time"}
"""ISO 8601 in UTC with milliseconds and Z (craftkit.timefmt.iso)."""
OPTIONAL_TIME = {"type": ["string", "null"], "format": "date-time"}
UUID = {"type": "string", "format": "uuid"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def schema(name: str, properties: dict, *, optional: tuple[str, ...] = (),
           description: str = "", example: dict | None = None) -> str:
    """Registers an object schema with exactly `properties`, all required but `optional`;
    returns its name, which routes give as their response."""
    body: dict = {"type": "object", "properties": properties,
                  "required": [key for key in properties if key not in optional],
                  "additionalProperties": False}
    if description:
        body["description"] = description
    if example is not None:
        body["example"] = example
    SCHEMAS[name] = body
    return name


def listing(name: str, key: str, item: str, *, paged: bool = True) -> str:
    """A list answer: `{key: [item…], nextCursor}` (nextCursor null on the last page)."""
    properties: dict = {key: {"type": "array", "items": ref(item)}}
    if paged:
        properties["nextCursor"] = {"type": ["string", "null"],
                                    "description": "Pass it as `cursor` for the next page; "
                                                   "null on the last page"}
    return schema(name, properties)


_RENDER_CREATED = {
    "id": {**UUID, "description": "The render's id (UUIDv7)"},
    "status": {"type": "string", "enum": list(STATUS),
               "description": "queued → rendering → succeeded | failed; cancelled (only while "
                              "queued, by POST /v1/renders/{id}/cancel)"},
    "pollUrl": {"type": "string", "format": "uri",
                "description": "GET it with the same key until the status is terminal"},
    "downloadUrl": {"type": ["string", "null"], "format": "uri",
                    "description": "The PDF's permanent public URL once succeeded; null "
                                   "without a public bucket (use …/download or a share link)"},
    "errorMessage": {"type": ["string", "null"], "description": "Why it failed"},
    "createdAt": TIME,
}
RENDER_CREATED = schema("RenderCreated", _RENDER_CREATED, example={
    "id": "0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e", "status": "queued",
    "pollUrl": "https://api.craftkit.dev/v1/renders/0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e",
    "downloadUrl": None, "errorMessage": None, "createdAt": "2026-05-03T10:14:00.000Z"})
RENDER = schema("Render", {
    **_RENDER_CREATED,
    "completedAt": {**OPTIONAL_TIME, "description": "When it reached a terminal status"},
    "durationMs": {"type": ["integer", "null"], "description": "Wall-clock render time"},
    "templateSlug": {"type": ["string", "null"]},
    "expiredAt": {**OPTIONAL_TIME,
                  "description": "When retention deleted its PDF and data (RENDER_RETENTION_DAYS)"},
}, example={
    "id": "0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e", "status": "succeeded",
    "pollUrl": "https://api.craftkit.dev/v1/renders/0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e",
    "downloadUrl": "https://cdn.craftkit.dev/renders/0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e/"
                   "invoice.pdf", "errorMessage": None, "createdAt": "2026-05-03T10:14:00.000Z",
    "completedAt": "2026-05-03T10:14:00.150Z", "durationMs": 150, "templateSlug": "invoice",
    "expiredAt": None})
RENDER_LIST = listing("RenderList", "data", RENDER)


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


VERSION = schema("Version", {
    "number": {"type": "integer", "minimum": 1},
    "published": {"type": "boolean", "description": "Whether it is the published version"},
    "createdAt": TIME,
    "publishedAt": OPTIONAL_TIME,
    "manifest": {"type": "object"},
    "layout": {"type": "object"},
})


def version(v: templates_pb2.TemplateVersion) -> dict:
    return {
        "number": v.number,
        "published": v.published,
        "createdAt": iso(v.created_at_ms),
        "publishedAt": iso(v.published_at_ms),
        "manifest": json.loads(v.manifest_json),
        "layout": json.loads(v.layout_json),
    }


_TEMPLATE = {
    "id": UUID,
    "slug": {"type": "string"},
    "name": {"type": "string"},
    "defaultFilename": {"type": "string"},
    "publishedVersion": {"type": ["integer", "null"],
                         "description": "The number renders use by default; null before a "
                                        "publish"},
    "createdAt": TIME,
}
TEMPLATE_SUMMARY = schema("TemplateSummary", _TEMPLATE)
TEMPLATE = schema("Template", {**_TEMPLATE, "versions": {"type": "array",
                                                         "items": ref(VERSION)}})
TEMPLATE_LIST = listing("TemplateList", "templates", TEMPLATE_SUMMARY)
VERSION_SCHEMA = schema("VersionSchema", {
    "number": {"type": "integer", "minimum": 1},
    "schema": {"type": "object", "description": "The JSON Schema a render's data must match"},
    "example": {"type": "object", "description": "A body that renders this version"},
    "curl": {"type": "string", "description": "A working curl command rendering the example"},
})


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


ASSET = schema("Asset", {
    "name": {"type": "string"}, "contentType": {"type": "string"}, "size": {"type": "integer"},
    "sha256": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"},
    "createdAt": TIME})
ASSET_LIST = listing("AssetList", "assets", ASSET, paged=False)


def asset(a: templates_pb2.Asset) -> dict:
    return {"name": a.name, "contentType": a.content_type, "size": a.size, "sha256": a.sha256,
            "width": a.width, "height": a.height, "createdAt": iso(a.created_at_ms)}


INBOUND_HOOK = schema("InboundHook", {
    "id": UUID, "templateSlug": {"type": "string"},
    "versionNumber": {"type": ["integer", "null"],
                      "description": "null: the version published at each call"},
    "createdAt": TIME, "revokedAt": OPTIONAL_TIME,
    "url": {"type": "string", "format": "uri",
            "description": "POST a render's data here, with no API key; only in the answer "
                           "that created the hook"},
}, optional=("url",))
INBOUND_HOOK_LIST = listing("InboundHookList", "hooks", INBOUND_HOOK, paged=False)


def inbound_hook(h, base: str) -> dict:
    body = {"id": h.id, "templateSlug": h.template_slug, "versionNumber": h.version_number or None,
            "createdAt": iso(h.created_at_ms), "revokedAt": iso(h.revoked_at_ms)}
    if h.token:  # only when minted: the URL is the credential
        body["url"] = f"{base}/v1/hooks/{h.id}/{h.token}"
    return body


API_KEY = schema("ApiKey", {
    "id": UUID, "name": {"type": "string"},
    "prefix": {"type": "string", "description": "The key's first characters, to recognise it"},
    "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
    "createdAt": TIME, "lastUsedAt": OPTIONAL_TIME, "revokedAt": OPTIONAL_TIME,
    "key": {"type": "string", "description": "The key itself: only in the answer that made it"},
}, optional=("key",))
API_KEY_LIST = listing("ApiKeyList", "data", API_KEY)


def api_key(k: projects_pb2.ApiKey, secret: str = "") -> dict:
    body = {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "createdAt": iso(k.created_at_ms), "lastUsedAt": iso(k.last_used_at_ms),
            "revokedAt": iso(k.revoked_at_ms)}
    if secret:  # only when made: the key itself, shown this once
        body["key"] = secret
    return body


WEBHOOK = schema("Webhook", {
    "id": UUID, "url": {"type": "string", "format": "uri"},
    "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
    "enabled": {"type": "boolean"}, "createdAt": TIME,
    "pausedUntil": {**OPTIONAL_TIME, "description": "Deliveries wait until then after the "
                                                    "endpoint kept failing"},
    "secret": {"type": "string", "description": "Signs deliveries (x-craftkit-signature); only "
                                                "in the answers to create and rotate-secret"},
}, optional=("secret",))
WEBHOOK_LIST = listing("WebhookList", "webhooks", WEBHOOK)


def endpoint(e) -> dict:
    body = {"id": e.id, "url": e.url, "events": list(e.events), "enabled": e.enabled,
            "createdAt": iso(e.created_at_ms), "pausedUntil": iso(e.paused_until_ms)}
    if e.secret:  # only when made: CreateEndpoint and RotateSecret
        body["secret"] = e.secret
    return body


DELIVERY = schema("Delivery", {
    "id": UUID, "event": {"type": "string", "enum": list(EVENTS)}, "renderId": UUID,
    "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
    "createdAt": TIME,
    "nextAttemptAt": {**OPTIONAL_TIME, "description": "Set while pending"},
    "attempts": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "required": ["number", "statusCode", "error", "durationMs", "at"],
        "properties": {"number": {"type": "integer"},
                       "statusCode": {"type": ["integer", "null"]},
                       "error": {"type": ["string", "null"]}, "durationMs": {"type": "integer"},
                       "at": TIME}}},
})
DELIVERY_LIST = listing("DeliveryList", "deliveries", DELIVERY)


def delivery(d) -> dict:
    return {"id": d.id, "event": d.event, "renderId": d.render_id, "status": d.status,
            "createdAt": iso(d.created_at_ms), "nextAttemptAt": iso(d.next_attempt_at_ms),
            "attempts": [{"number": a.number, "statusCode": a.status_code or None,
                          "error": a.error or None, "durationMs": a.duration_ms,
                          "at": iso(a.at_ms)} for a in d.attempts]}


SHARE_LINK = schema("ShareLink", {
    "id": UUID, "expiresAt": TIME, "maxDownloads": {"type": ["integer", "null"]},
    "downloads": {"type": "integer"}, "createdAt": TIME,
    "url": {"type": "string", "format": "uri",
            "description": "Opens the PDF with no API key; only in the answer that made it"},
    "revokedAt": {**OPTIONAL_TIME, "description": "In every answer but the one that made it"},
}, optional=("url", "revokedAt"))
SHARE_LINK_LIST = listing("ShareLinkList", "links", SHARE_LINK, paged=False)


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


HEALTH = schema("Health", {"status": {"type": "string", "enum": ["ok"]}})
READY = schema("Ready", {
    "ready": {"type": "boolean"},
    "requires": {"type": "array", "items": {"type": "string"}},
    "backends": {"type": "object", "additionalProperties": {"type": "string"},
                 "description": "Each backend's gRPC health status (SERVING, NOT_SERVING, "
                                "UNAVAILABLE, …)"},
})
ERROR = schema("Error", {"error": {
    "type": "object", "required": ["code", "message"], "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "description": "Stable, for programs to branch on"},
        "message": {"type": "string", "description": "For people: what to fix"},
        "requestId": {"type": "string", "description": "This request's id, as in its "
                      "x-request-id header and the gateway's logs: quote it when asking for help"},
        "issues": {"type": "object", "required": ["formErrors", "fieldErrors"],
                   "additionalProperties": False,
                   "properties": {"formErrors": {"type": "array", "items": {"type": "string"}},
                                  "fieldErrors": {"type": "object", "additionalProperties": {
                                      "type": "array", "items": {"type": "string"}}}},
                   "description": "Validation errors: fieldErrors by the dotted path of the "
                                 "field"}}}},
    description="Every error, in one envelope")
